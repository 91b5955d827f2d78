"""CasePilot's interfaces over real HTTP (the ``server`` fixture) and as a real process: POST /api/ask (the
JSON contract, a conversation's follow-up, its errors), the /ask page without JavaScript (the form posts,
the server renders the conversation so far; follow-ups are buttons that post), the code page's FAQ link,
``medcode ask``. The answers must be what ``medcode.assistant.ask`` answers in-process on the same
knowledge base."""

from __future__ import annotations

import html as html_mod
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson
import pytest
from test_web import Page

from medcode.assistant import ask
from medcode.assistant.model import CONFIDENCE, Answer
from medcode.web.pages.ask import Transcripts, Turn, safe_link

QUESTION = "What does 99213 pay in 2026?"
FOLLOW_UP = "and in Manhattan?"
OTHERS = (
    "Does 20702 need modifier 51?",
    "Can 45380 and 45378 be billed together?",
    "Is S72.0 billable?",
    "Is 2070A a code?",
)
SHORT = "String should have at least 1 character"
HOSTILE = "<script>alert('x')</script> what does <b>99213</b> pay?"
TIMEOUT = 120
CONVERSATION = re.compile(r"[A-Za-z0-9_-]{8,64}")


def post(server: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.post(server + path, timeout=TIMEOUT, **kw)


def own(answer_json: dict) -> dict:
    """An answer without its conversation id (the only part that differs from call to call)."""
    return {k: v for k, v in answer_json.items() if k != "conversation_id"}


def core(kb, *questions: str, **kw: Any) -> dict:
    """The in-process answer to the last of ``questions``, asked in one conversation."""
    conversation = f"test-{abs(hash(questions)):x}-{len(questions)}"
    found = None
    for q in questions:
        found = ask(kb, q, conversation_id=conversation if len(questions) > 1 else None, **kw)
    assert found is not None
    return own(found.as_json())


# --- the JSON API ------------------------------------------------------------------------------


def test_api_answers_what_the_core_answers_in_the_contract(server, kb):
    r = post(server, "/api/ask", json={"question": QUESTION})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    got = r.json()
    assert own(got) == core(kb, QUESTION)
    # the contract of the issue
    assert {"answer", "citations", "codes", "confidence", "followups", "conversation_id"} <= set(got)
    assert isinstance(got["answer"], str) and got["answer"]
    assert got["confidence"] in CONFIDENCE
    assert "99213" in got["codes"] and all(isinstance(c, str) for c in got["codes"])
    assert got["citations"]
    for c in got["citations"]:
        assert {"family", "release", "file", "row"} <= set(c) <= {"family", "release", "file", "row", "link"}
        assert all(isinstance(c[k], str) and c[k] for k in ("family", "release", "file"))
    assert all(isinstance(f, str) and f for f in got["followups"])
    assert CONVERSATION.fullmatch(got["conversation_id"])


@pytest.mark.parametrize("question", OTHERS, ids=["modifier", "ptp", "icd", "not-a-code"])
def test_api_answers_other_kinds_as_the_core(server, kb, question):
    r = post(server, "/api/ask", json={"question": question, "date": "2026-05-01"})
    assert r.status_code == 200
    assert own(r.json()) == core(kb, question, day=date(2026, 5, 1))


def test_api_with_a_zip_code(server, kb):
    r = post(server, "/api/ask", json={"question": "What does 99213 pay?", "zip": "10001"})
    assert r.status_code == 200
    assert own(r.json()) == core(kb, "What does 99213 pay?", zip_code="10001")


def test_api_follows_a_conversation(server, kb):
    first = post(server, "/api/ask", json={"question": QUESTION}).json()
    conversation = first["conversation_id"]
    r = post(server, "/api/ask", json={"question": FOLLOW_UP, "conversation_id": conversation})
    assert r.status_code == 200
    second = r.json()
    assert second["conversation_id"] == conversation
    want = core(kb, QUESTION, FOLLOW_UP)
    assert own(second) == want
    assert "99213" in second["codes"]  # the code came from the question before
    assert want != core(kb, FOLLOW_UP)  # (alone, the follow-up is another answer)
    # an id the server does not know (another worker, expired): a new question
    alone = post(server, "/api/ask", json={"question": FOLLOW_UP, "conversation_id": "never-seen-0001"}).json()
    assert own(alone) == core(kb, FOLLOW_UP)
    assert alone["conversation_id"] == "never-seen-0001"


def test_concurrent_questions_answer_as_serial_ones(server, kb):
    cases = [QUESTION, *OTHERS] * 4
    want = [core(kb, q) for q in cases]
    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(lambda q: own(post(server, "/api/ask", json={"question": q}).json()), cases))
    assert got == want


def _error(status: int, message: str, field: str, kind: str = "bad_input") -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message, "field": field}}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "answer"),
    [
        (
            b'{"question": ""}',
            "application/json",
            *_error(422, "question: String should have at least 1 character", "question"),
        ),
        (
            b'{"question": " \\n "}',
            "application/json",
            *_error(422, "question is empty: there is nothing to answer", "question"),
        ),
        (
            orjson.dumps({"question": "x" * 2001}),
            "application/json",
            *_error(422, "question: String should have at most 2000 characters", "question"),
        ),
        (b"{}", "application/json", *_error(422, "question: Field required", "question")),
        (b'{"question": 5}', "application/json", *_error(422, "question: Input should be a valid string", "question")),
        (b'{"question": "x", "q": 1}', "application/json", *_error(422, "q: Extra inputs are not permitted", "q")),
        (
            b'{"question": "x", "conversation_id": "<x>"}',
            "application/json",
            *_error(422, "conversation_id: String should match pattern '^[A-Za-z0-9_-]{8,64}$'", "conversation_id"),
        ),
        (
            b'{"question": "x", "date": "2026-02-30"}',
            "application/json",
            *_error(422, "'2026-02-30' is not a date (YYYY-MM-DD)", "date"),
        ),
        (
            b'{"question": "x", "zip": "1000"}',
            "application/json",
            *_error(422, "zip: String should match pattern '^[0-9]{5}(-?[0-9]{4})?$'", "zip"),
        ),
        (
            b"question=x",
            "application/json",
            *_error(422, "body: Invalid JSON: expected value at line 1 column 1", "body"),
        ),
        (
            b'{"question": "x"}',
            "text/plain",
            *_error(
                415,
                "Content-Type 'text/plain' is not accepted; send application/json",
                "content-type",
                "unsupported_media_type",
            ),
        ),
        (
            orjson.dumps({"question": "x", "pad": " " * 20_000}),
            "application/json",
            *_error(413, "the body is over the limit of 16,384 bytes", "body", "too_large"),
        ),
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "no-question",
        "not-text",
        "unknown-field",
        "bad-conversation",
        "bad-date",
        "bad-zip",
        "not-json",
        "text-plain",
        "too-large",
    ],
)
def test_api_refuses_with_the_field_named(server, body, content_type, status, answer):
    r = post(server, "/api/ask", content=body, headers={"Content-Type": content_type})
    assert (r.status_code, r.json()) == (status, answer)


def test_api_refuses_a_zip_in_no_locality(server):
    r = post(server, "/api/ask", json={"question": "What does 99213 pay?", "zip": "00000"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["type"], err["field"]) == ("unknown_locality", "zip")
    assert err["message"].startswith("ZIP code 00000 is not in the ZIP-to-locality file (")
    page = post(server, "/ask", data={"question": "What does 99213 pay?", "zip": "00000"})
    assert page.status_code == 422
    assert (
        '<p class="error" role="alert" id="ask-error">ZIP code 00000 is not in the ZIP-to-locality file (' in page.text
    )


def test_api_is_in_the_openapi_schema(server):
    spec = httpx.get(server + "/openapi.json", timeout=30).json()
    op = spec["paths"]["/api/ask"]["post"]
    assert sorted(op["responses"]) == ["200", "413", "415", "422"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(body["properties"]) == ["conversation_id", "date", "question", "zip"]
    assert body["required"] == ["question"] and body["additionalProperties"] is False
    answer = spec["components"]["schemas"]["AskAnswer"]
    assert sorted(answer["required"]) == sorted(
        ["answer", "citations", "codes", "confidence", "followups", "kind", "notices", "conversation_id"]
    )


def test_cross_site_posts_are_refused(server):
    r = post(server, "/api/ask", json={"question": QUESTION}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = post(server, "/ask", data={"question": QUESTION}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


# --- the page ----------------------------------------------------------------------------------


def _turns(html: str) -> list[dict]:
    """Each turn of the page: its question, answer, codes, citations (text and link) and follow-ups."""
    out = []
    for block in re.findall(r'<li class="turn">(.*?)</li>\n(?=<li class="turn">|</ol>)', html, re.S):
        question = re.search(r'<p class="asked"><span class="vh">You asked: </span>(.*?)</p>', block, re.S)
        answer = re.search(r'<p class="answer">(.*?)</p>', block, re.S)
        cites = re.search(r'<ol class="citations">(.*?)</ol>', block, re.S)
        out.append(
            {
                "question": html_mod.unescape(question.group(1)) if question else None,
                "answer": html_mod.unescape(answer.group(1)) if answer else None,
                "codes": re.findall(r'<a class="code" href="/codes/[^"]+">([^<]+)</a>', block),
                "citations": [
                    (html_mod.unescape(a), html_mod.unescape(b))
                    for a, b in re.findall(r"<li>(?:<a href=\"([^\"]+)\">)?([^<]+)", cites.group(1) if cites else "")
                ],
                "followups": [
                    html_mod.unescape(v)
                    for v in re.findall(r'<button type="submit" name="question" value="([^"]*)"', block)
                ],
            }
        )
    return out


def _conversation_id(html: str) -> str:
    found = re.search(r'<form id="ask-form"[^>]*>\s*<input type="hidden" name="conversation_id" value="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def _shown(answer: dict) -> dict:
    """What the page shows of an answer (JSON contract form)."""
    return {
        "answer": answer["answer"],
        "codes": answer["codes"],
        "citations": [
            (safe_link(c.get("link")) or "", f"{c['family']}: {c['file']}, release {c['release']}, row {c['row']}")
            for c in answer["citations"]
        ],
        "followups": answer["followups"],
    }


def test_page_form_is_labelled_and_linked(server):
    r = httpx.get(server + "/ask", timeout=30)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    page = Page(r.text)
    assert page.title == "CasePilot: ask a coding question · medcode"
    assert page.canonical == "/ask"
    assert [i.get("id") for i in page.inputs if i.get("id") not in page.labels_for] == []
    assert {"ask-form", "ask-question", "ask-date", "ask-zip", "turns"} <= page.ids
    assert CONVERSATION.fullmatch(_conversation_id(r.text))
    assert _turns(r.text) == []
    assert '<a href="/ask">CasePilot</a>' in httpx.get(server + "/", timeout=30).text  # the nav link
    examples = re.findall(r'<li><a href="/ask\?q=([^"]+)">', r.text)
    assert len(examples) >= 3


def test_page_without_javascript_keeps_the_conversation(server, kb):
    r = post(server, "/ask", data={"question": QUESTION, "conversation_id": "", "date": "", "zip": ""})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    first = core(kb, QUESTION)
    turns = _turns(r.text)
    assert turns == [{"question": QUESTION, **_shown(first)}]
    assert any(link.startswith("/codes/99213#") for link, _ in turns[0]["citations"])
    conversation = _conversation_id(r.text)
    # the follow-up button: its own form, with the same conversation id
    assert f'<input type="hidden" name="conversation_id" value="{conversation}">' in r.text.split('id="ask-form"')[0]
    r = post(server, "/ask", data={"question": FOLLOW_UP, "conversation_id": conversation, "date": "", "zip": ""})
    assert r.status_code == 200
    assert _conversation_id(r.text) == conversation
    assert _turns(r.text) == [
        {"question": QUESTION, **_shown(first)},
        {"question": FOLLOW_UP, **_shown(core(kb, QUESTION, FOLLOW_UP))},
    ]


def test_page_follow_up_buttons_ask_them(server, kb):
    r = post(server, "/ask", data={"question": QUESTION})
    [turn] = _turns(r.text)
    assert turn["followups"], "the answer suggests no follow-up"
    asked = turn["followups"][0]
    r = post(server, "/ask", data={"question": asked, "conversation_id": _conversation_id(r.text)})
    assert r.status_code == 200
    assert [t["question"] for t in _turns(r.text)] == [QUESTION, asked]
    assert _turns(r.text)[1]["answer"] == core(kb, QUESTION, asked)["answer"]


def test_page_asks_the_question_of_the_address(server, kb):
    r = httpx.get(server + "/ask?q=" + quote_plus(QUESTION), timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert _turns(r.text) == [{"question": QUESTION, **_shown(core(kb, QUESTION))}]


def test_page_never_renders_text_as_html(server):
    for r in (
        post(server, "/ask", data={"question": HOSTILE}),
        httpx.get(server + "/ask?q=" + quote_plus(HOSTILE), timeout=TIMEOUT),
    ):
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "<b>99213</b>" not in r.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.text
        assert _turns(r.text)[0]["question"] == HOSTILE


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"question": "  "}, 422, "Write a question (for example: Does 20702 need modifier 51?)."),
        ({"question": "x" * 2001}, 422, "The question is 2,001 characters; at most 2,000."),
        ({"question": QUESTION, "zip": "1234"}, 422, "The ZIP code &#39;1234&#39; is not five digits (or ZIP+4)."),
        (
            {"question": QUESTION, "date": "2026-02-30"},
            422,
            "The date &#39;2026-02-30&#39; is not a date (YYYY-MM-DD).",
        ),
    ],
    ids=["blank", "too-long", "bad-zip", "bad-date"],
)
def test_page_refuses_with_a_message(server, form, status, message):
    r = post(server, "/ask", data=form)
    assert r.status_code == status
    assert f'<p class="error" role="alert" id="ask-error">{message}</p>' in r.text
    assert _turns(r.text) == []


def test_page_refuses_a_body_that_is_not_the_form(server):
    r = post(server, "/ask", content=b'{"question": "x"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert "application/x-www-form-urlencoded" in r.text


def test_code_page_faq_links_to_casepilot(server, kb):
    r = httpx.get(server + "/codes/20702", timeout=30)
    faq = r.text.split('<section id="faq"', 1)[1].split("</section>", 1)[0]
    found = re.search(r'<a id="ask-link" href="(/ask\?q=[^"]+)">Ask CasePilot about 20702</a>', faq)
    assert found is not None
    page = httpx.get(server + html_mod.unescape(found.group(1)), timeout=TIMEOUT)
    assert page.status_code == 200
    [turn] = _turns(page.text)
    assert "20702" in turn["question"]
    assert turn == {"question": turn["question"], **_shown(core(kb, turn["question"]))}
    assert "20702" in turn["codes"]


def test_transcripts_keep_the_newest_turns_and_conversations():
    store = Transcripts(max_conversations=2, max_turns=3)
    turns = [Turn(f"q{n}", Answer(f"a{n}")) for n in range(5)]
    for t in turns:
        store.add("aaaaaaaa", t)
    assert store.turns("aaaaaaaa") == tuple(turns[2:])
    store.add("bbbbbbbb", turns[0])
    store.add("cccccccc", turns[1])
    assert store.turns("aaaaaaaa") == ()  # the least recently used went
    assert store.turns("cccccccc") == (turns[1],)
    expired = Transcripts(keep_seconds=0)
    expired.add("aaaaaaaa", turns[0])
    assert expired.turns("aaaaaaaa") == ()


@pytest.mark.parametrize(
    ("link", "safe"),
    [
        ("/codes/20702#ncci", "/codes/20702#ncci"),
        ("/codes/S72.0#children", "/codes/S72.0#children"),
        ("javascript:alert(1)", None),
        ("//evil.example/x", None),
        ("https://evil.example/", None),
        ('/codes/x" onclick="y', None),
        (None, None),
    ],
    ids=["section", "icd", "javascript", "other-host", "absolute", "quote", "none"],
)
def test_safe_link(link, safe):
    assert safe_link(link) == safe


# --- the command line, as a real process ---------------------------------------------------------


def medcode(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True, timeout=300)


def test_cli_json_answers_what_the_core_answers(cli_env, kb):
    r = medcode(cli_env, "ask", QUESTION, "--json")
    assert r.returncode == 0, r.stderr
    assert own(orjson.loads(r.stdout)) == core(kb, QUESTION)
    r = medcode(cli_env, "ask", "What does 99213 pay?", "--zip", "10001", "--date", "2026-05-01", "--json")
    assert r.returncode == 0, r.stderr
    assert own(orjson.loads(r.stdout)) == core(kb, "What does 99213 pay?", zip_code="10001", day=date(2026, 5, 1))


def test_cli_prints_the_answer_sources_and_followups(cli_env, kb):
    want = core(kb, QUESTION)
    r = medcode(cli_env, "ask", QUESTION)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.decode().split())  # (rich wraps long lines)
    assert " ".join(want["answer"].split()) in out
    assert f"Confidence: {want['confidence']}" in out
    assert f"Codes: {', '.join(want['codes'])}" in out
    lines = r.stdout.decode().splitlines()
    for c in want["citations"]:
        assert any(c["family"] in line and c["release"] in line and c["row"] in line for line in lines), c
    for f in want["followups"]:
        assert f"- {f}" in out


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["   "], 2, "medcode: the question is empty\n"),
        (["x" * 2001], 2, "medcode: the question is 2,001 characters; at most 2,000\n"),
        ([QUESTION, "--date", "2026-02-30"], 2, "usage: medcode ask"),
        ([QUESTION, "--zip", "00000"], 1, "medcode: ZIP code 00000 is not in the ZIP-to-locality file ("),
        ([QUESTION, "--zip", "1234"], 2, "medcode: '1234' is not a ZIP code"),
    ],
    ids=["blank", "too-long", "bad-date", "unknown-zip", "bad-zip"],
)
def test_cli_refuses_with_a_message(cli_env, args, status, message):
    r = medcode(cli_env, "ask", *args)
    assert r.returncode == status
    err = r.stderr.decode()
    assert err.startswith(message), err
    assert "Traceback" not in err and r.stdout == b""
