"""CasePilot's optional phrasing by a language model (medcode.assistant.llm): a model may reword an
answer, never add a fact.

Against three real HTTP endpoints: xllamacpp serving SmolLM2 (the server of tests/test_llm.py, its answers
are poor: the tests check the wiring and the checks, never the wording), a small canned server written
here (a real HTTP server on a loopback port, answering what each test sets: an invented code, an invented
number, a cut reply, an error) and a dead port. Every failure keeps medcode's own answer with a notice.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from test_llm import KEY, _closed_port, _conf, llama_server  # noqa: F401 (fixture)

from medcode.assistant import ask
from medcode.assistant import llm as phrasing
from medcode.assistant.model import Answer, Citation

QUESTION = "What does 99213 pay nationally?"


@pytest.fixture(scope="module")
def answer(kb) -> Answer:
    """medcode's own answer to QUESTION (the facts the model is given)."""
    found = ask(kb, QUESTION)
    assert found.citations and "99213" in found.codes, found  # else there is nothing to phrase
    assert re.search(r"[0-9]", found.answer), found.answer  # a figure, so that invented numbers can be told
    return found


# --- a canned chat endpoint -----------------------------------------------------------------------


@dataclass
class Canned:
    """What the canned server answers next (status and body), and the requests it was sent."""

    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


def completion(content: Any, finish_reason: str = "stop") -> bytes:
    text = content if isinstance(content, str) else json.dumps(content)
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
    return json.dumps({"choices": [choice]}).encode()


@pytest.fixture()
def canned() -> Iterator[tuple[str, Canned]]:
    """(base URL, its Canned state): a real HTTP server on 127.0.0.1 answering POST .../chat/completions."""
    state = Canned()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            size = int(self.headers.get("content-length", "0"))
            state.requests.append((dict(self.headers), json.loads(self.rfile.read(size))))
            time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def _reply(answer: Answer, text: str, **extra: Any) -> dict[str, Any]:
    out = {"answer": text, "citations": ["c1"], "codes": list(answer.codes[:1])}
    out.update(extra)
    return out


def _fallback(answer: Answer, got: Answer, reason: str) -> None:
    """``got`` is ``answer`` with one notice more, saying the model was not used and why."""
    assert got.answer == answer.answer
    assert (got.citations, got.codes, got.confidence, got.followups) == (
        answer.citations,
        answer.codes,
        answer.confidence,
        answer.followups,
    )
    assert got.notices[: len(answer.notices)] == answer.notices
    extra = got.notices[len(answer.notices) :]
    assert len(extra) == 1, got.notices
    assert extra[0].startswith("The language model's wording was not used (")
    assert extra[0].endswith("); this is medcode's own answer.")
    assert reason in extra[0], extra[0]


def test_a_rewording_of_the_facts_is_used_and_the_request_holds_them(answer, canned):
    url, state = canned
    text = f"In short: {answer.answer}"
    state.body = completion(_reply(answer, text))
    got = phrasing.phrase(answer, QUESTION, _conf(url))
    assert got.answer == " ".join(text.split())
    assert (got.citations, got.codes, got.confidence, got.kind) == (
        answer.citations,
        answer.codes,
        answer.confidence,
        answer.kind,
    )
    assert got.notices == (
        *answer.notices,
        "Worded by a language model from the cited rows; every code and number in it was checked against them.",
    )
    # what the model was sent: the facts, with the citations and codes as enums of the answer's
    [(headers, body)] = state.requests
    assert headers["Authorization"] == f"Bearer {KEY}"
    content = body["messages"][1]["content"]
    assert QUESTION in content and answer.answer in content
    for n, c in enumerate(answer.citations, 1):
        assert f"[c{n}] {c.family}, file {c.file}, release {c.release}, row {c.row}" in content
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["citations"]["items"]["enum"] == [f"c{n}" for n in range(1, len(answer.citations) + 1)]
    assert schema["properties"]["codes"]["items"]["enum"] == list(answer.codes)
    assert schema["required"] == ["answer", "citations", "codes"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda a: completion(_reply(a, f"{a.answer} The same goes for 99299.")), "the reply names '99299'"),
        (lambda a: completion(_reply(a, f"{a.answer} Add 0999T.")), "the reply names '0999T'"),
        (lambda a: completion(_reply(a, f"{a.answer} Code Z99.89 too.")), "the reply names 'Z99.89'"),
        (lambda a: completion(_reply(a, f"{a.answer} It rose by 7.31 since last year.")), "the number 7.31"),
        (lambda a: completion(_reply(a, a.answer, codes=["99299"])), "the reply lists codes it was not given"),
        (lambda a: completion(_reply(a, a.answer, citations=["c99"])), "the reply cites rows it was not given"),
        (lambda a: completion(_reply(a, a.answer), finish_reason="length"), "the reply was cut at its length limit"),
        (lambda a: completion(a.answer), 'the reply is not {"answer", "citations", "codes"}'),
        (lambda a: completion(_reply(a, "  ")), "the reply's answer is empty"),
        (lambda a: b"not json", "the reply is not a chat completion"),
        (lambda a: b'{"choices": []}', "the reply is not a chat completion"),
    ],
    ids=[
        "invented-cpt",
        "invented-category-iii",
        "invented-icd",
        "invented-number",
        "code-outside-enum",
        "citation-outside-enum",
        "finish-length",
        "content-not-schema",
        "empty",
        "not-json",
        "no-choice",
    ],
)
def test_a_reply_that_fails_a_check_keeps_medcodes_answer(answer, canned, make, reason):
    url, state = canned
    state.body = make(answer)
    assert "99299" not in answer.answer and "7.31" not in answer.answer  # (invented for the test)
    _fallback(answer, phrasing.phrase(answer, QUESTION, _conf(url)), reason)
    assert len(state.requests) == 1


def test_an_http_error_keeps_medcodes_answer(answer, canned):
    url, state = canned
    state.status, state.body = 500, b'{"error": "boom"}'
    conf = _conf(url)
    _fallback(answer, phrasing.phrase(answer, QUESTION, conf), f"HTTP 500 from {conf.endpoint}")


def test_a_dead_endpoint_keeps_medcodes_answer(answer):
    conf = _conf(f"http://127.0.0.1:{_closed_port()}")
    _fallback(answer, phrasing.phrase(answer, QUESTION, conf), f"cannot reach {conf.endpoint} (")


def test_a_slow_endpoint_times_out(answer, canned):
    url, state = canned
    state.delay, state.body = 3.0, completion(_reply(answer, answer.answer))
    conf = phrasing.Config(url, "m", KEY, 0.5)
    started = time.perf_counter()
    got = phrasing.phrase(answer, QUESTION, conf)
    assert time.perf_counter() - started < 2.5
    _fallback(answer, got, f"no answer from {conf.endpoint} within 0.5 s")


def test_no_model_or_no_facts_asks_nothing(answer, canned):
    url, state = canned
    assert phrasing.phrase(answer, QUESTION, None) is answer
    bare = Answer("I found no code in the question.", confidence="low", kind="description")
    assert phrasing.phrase(bare, "what is it?", _conf(url)) is bare  # nothing cited: nothing to reword
    assert state.requests == []


# --- the checks themselves ------------------------------------------------------------------------

FACTS = Answer(
    "Code 20702 is an add-on code; its listed primary is 20680. Its payment is $1,234.50 in locality 01.",
    citations=(Citation("aoc", "2026Q2", "AOC_V2026Q2.txt", "20702|20680", "/codes/20702#facts"),),
    codes=("20702", "20680"),
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("20702 is an add-on to 20680; it pays $1234.5 in locality 01.", None),
        ("It pays 1,234.50 dollars (release 2026Q2).", None),
        ("20702 goes with 20680 and pays $1,234.50.", None),
        ("20702 goes with 20680.", "the reply leaves out every figure of the answer"),
        ("20702 is not an add-on code; it pays $1,234.50.", "the reply adds a negation"),
        ("20702 goes with 20694.", "the reply names '20694', which is not among the answer's codes"),
        ("20702 pays $1,300.00.", "the reply states the number 1300.00, which is not in the answer or its cited rows"),
        ("Use modifier 51 with 20702.", "the reply states the number 51, which is not in the answer or its cited rows"),
        ("Report M17.11 with 20702.", "the reply names 'M17.11', which is not among the answer's codes"),
    ],
    ids=[
        "reworded",
        "comma-and-release",
        "codes-and-amount",
        "no-figure",
        "negation-added",
        "invented-code",
        "invented-amount",
        "invented-modifier",
        "icd",
    ],
)
def test_checked(text, problem):
    assert phrasing.checked(text, FACTS) == problem


def test_a_negation_must_be_kept():
    facts = Answer("S72.0 is not billable: it is a header with 8 codes under it.", codes=("S72.0",))
    assert phrasing.checked("No: S72.0 is a header (8 codes below it).", facts) is None
    assert (
        phrasing.checked("S72.0 is billable; 8 codes are under it.", facts) == "the reply drops the answer's negation"
    )


def test_numbers_compare_as_numbers():
    assert phrasing._numbers("$1,234.50 and 1.500 and 7") == {Decimal("1234.5"), Decimal("1.5"), Decimal(7)}


# --- the wiring: the command line with a model configured ------------------------------------------


def _medcode(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True, timeout=300)


def test_cli_with_a_model_that_invents_a_code_answers_without_it(cli_env, canned, answer):
    url, state = canned
    state.body = completion(_reply(answer, f"{answer.answer} Bill 99299 as well."))
    env = dict(cli_env, MEDCODE_LLM_URL=url, MEDCODE_LLM_KEY=KEY)
    r = _medcode(env, "ask", QUESTION, "--json")
    assert r.returncode == 0, r.stderr
    out = orjson.loads(r.stdout)
    assert out["answer"] == answer.answer and "99299" not in out["answer"]
    assert out["notices"][-1].startswith("The language model's wording was not used (the reply names '99299'")
    assert len(state.requests) == 1


def test_cli_with_a_dead_model_answers_without_it(cli_env, answer):
    env = dict(cli_env, MEDCODE_LLM_URL=f"http://127.0.0.1:{_closed_port()}")
    r = _medcode(env, "ask", QUESTION, "--json")
    assert r.returncode == 0, r.stderr
    out = orjson.loads(r.stdout)
    assert out == {**answer.as_json(), "notices": out["notices"], "conversation_id": out["conversation_id"]}
    assert out["notices"][-1].startswith("The language model's wording was not used (cannot reach ")


def test_cli_refuses_a_model_url_that_is_not_http(cli_env):
    r = _medcode(dict(cli_env, MEDCODE_LLM_URL="file:///etc/passwd"), "ask", QUESTION)
    assert r.returncode == 2
    assert r.stderr.decode().startswith("medcode: MEDCODE_LLM_URL must start with http:// or https://")


# --- a real model ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_phrasing_is_checked_or_refused(llama_server, answer):  # noqa: F811 (fixture)
    """The small model's reply is either a rewording that passes every check (its codes are the answer's,
    its numbers the answer's) or refused with a notice: medcode's answer either way, never an error."""
    got = phrasing.phrase(answer, QUESTION, _conf(llama_server))
    assert (got.citations, got.codes, got.confidence) == (answer.citations, answer.codes, answer.confidence)
    if got.answer == answer.answer:
        assert got.notices[-1].startswith("The language model's wording was not used ("), got.notices
        assert "HTTP" not in got.notices[-1] and "cannot reach" not in got.notices[-1]  # it did answer
    else:
        assert phrasing.checked(got.answer, answer) is None
        assert got.notices[-1].startswith("Worded by a language model")


@pytest.mark.slow
def test_smollm2_with_a_wrong_key_keeps_medcodes_answer(llama_server, answer):  # noqa: F811 (fixture)
    conf = _conf(llama_server, key="wrong")
    _fallback(answer, phrasing.phrase(answer, QUESTION, conf), f"HTTP 401 from {conf.endpoint}")
