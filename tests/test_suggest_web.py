"""Case2Code's interfaces over real HTTP (the ``server`` fixture) and the command line: POST
/api/suggest, the /suggest page and its "check as a claim" form, ``medcode suggest``; hostile notes
(huge, empty, binary, HTML and script) and the errors that name what is wrong."""

from __future__ import annotations

import logging
import re

import httpx
import orjson
import pytest
from markupsafe import escape
from test_web import Page

from medcode import casenote, cli
from medcode.language import llm
from medcode.suggest import Evidence, Suggested
from medcode.web.pages.suggest import pieces

NOTE = (
    "Chief complaint: right knee pain for two years.\n"
    "History: denies chest pain. Mother had breast cancer.\n"
    "Assessment: primary osteoarthritis of the right knee. Essential hypertension, controlled.\n"
    "Procedure: arthrocentesis and injection of the right knee joint with triamcinolone 40 mg, "
    "without ultrasound guidance.\n"
)
HOSTILE = (
    "<script>alert('x')</script>\n<img src=x onerror=alert(1)>\nAssessment: essential hypertension & <b>gout</b>.\n"
)
LIMIT = 100 * 1024  # MEDCODE_MAX_NOTE_KB's default
TIMEOUT = 180  # the first note of a fresh server may wait for the language layer to load


def post(server: str, path: str, **kw) -> httpx.Response:
    return httpx.post(server + path, timeout=TIMEOUT, **kw)


@pytest.fixture(scope="module")
def expected(kb) -> dict:
    """What the core answers for NOTE (the API, the page and the CLI must answer the same)."""
    return casenote.run(kb, NOTE).as_json()


# --- the JSON API ------------------------------------------------------------------------------


def test_api_answers_what_the_core_answers(server, kb, expected):
    r = post(server, "/api/suggest", json={"text": NOTE})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == expected
    assert list(expected) == ["diagnoses", "procedures", "notices"]
    assert expected["diagnoses"] and expected["procedures"]  # the note has both (else this test shows nothing)
    for item in expected["diagnoses"] + expected["procedures"]:
        assert 0 <= item["confidence"] <= 1
        for e in item["evidence"]:
            assert NOTE[e["start"] : e["end"]] == e["text"]
    assert all("modifiers" in p for p in expected["procedures"])


def test_api_date_setting_and_all(server, kb):
    from datetime import date

    body = {"text": NOTE, "date": "2026-05-01", "setting": "facility", "all": True}
    r = post(server, "/api/suggest", json=body)
    assert r.status_code == 200
    found = casenote.run(kb, NOTE, day=date(2026, 5, 1), setting="facility", include_all=True).as_json()
    found.setdefault("candidates", [])
    assert r.json() == found


def _error(status: int, message: str, field: str, kind: str = "bad_input") -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message, "field": field}}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "answer"),
    [
        (b'{"text": ""}', "application/json", *_error(422, "text: String should have at least 1 character", "text")),
        (b'{"text": " \\n\\t "}', "application/json", *_error(422, "text is empty: there is no note to read", "text")),
        (
            b'{"text": "gout\\u0000\\u0001"}',
            "application/json",
            *_error(422, "text has NUL at line 1, column 5: it is not a text note", "text"),
        ),
        (
            b'{"text": "a\\nb\\u0007"}',
            "application/json",
            *_error(422, "text has the control character U+0007 at line 2, column 2: it is not a text note", "text"),
        ),
        (
            orjson.dumps({"text": "x" * (LIMIT + 1)}),
            "application/json",
            *_error(413, "text is 102,401 bytes: over the limit of 102,400 (MEDCODE_MAX_NOTE_KB)", "text", "too_large"),
        ),
        (
            b'{"text": "' + b" " * (LIMIT * 6 + 65536) + b'"}',
            "application/json",
            *_error(413, "the body is over the limit of 679,936 bytes", "body", "too_large"),
        ),
        (b'{"txt": "gout"}', "application/json", *_error(422, "text: Field required", "text")),
        (
            b'{"text": "gout", "zip": "10001"}',
            "application/json",
            *_error(422, "zip: Extra inputs are not permitted", "zip"),
        ),
        (b'["gout"]', "application/json", *_error(422, "body: Input should be an object", "body")),
        (b'{"text": 5}', "application/json", *_error(422, "text: Input should be a valid string", "text")),
        (
            b'{"text": "gout", "date": "2026-02-30"}',
            "application/json",
            *_error(422, "'2026-02-30' is not a date (YYYY-MM-DD)", "date"),
        ),
        (
            b'{"text": "gout", "setting": "home"}',
            "application/json",
            *_error(422, "setting: Input should be 'office' or 'facility'", "setting"),
        ),
        (
            b"gout",
            "text/plain",
            *_error(
                415,
                "Content-Type 'text/plain' is not accepted; send application/json",
                "content-type",
                "unsupported_media_type",
            ),
        ),
    ],
    ids=[
        "empty",
        "blank",
        "nul",
        "control",
        "note-too-big",
        "body-too-big",
        "no-text",
        "extra-field",
        "not-object",
        "not-string",
        "bad-date",
        "bad-setting",
        "text-plain",
    ],
)
def test_api_refuses_with_the_field_named(server, body, content_type, status, answer):
    r = post(server, "/api/suggest", content=body, headers={"content-type": content_type})
    assert (r.status_code, r.json()) == (status, answer)


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), b'{"text": "\xff\xfe gout"}', b"{not json"],
    ids=["binary", "not-utf8", "not-json"],
)
def test_api_refuses_bodies_that_are_not_json(server, body):
    r = post(server, "/api/suggest", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["type"], err["field"]) == ("bad_input", "body")
    assert err["message"].startswith("body: Invalid JSON: ")


def test_api_is_in_the_openapi_schema_and_docs(server):
    spec = httpx.get(server + "/openapi.json", timeout=30).json()
    op = spec["paths"]["/api/suggest"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(schema["properties"]) == ["all", "date", "setting", "text"]
    assert schema["required"] == ["text"]
    assert sorted(op["responses"]) == ["200", "413", "415", "422"]
    answer = spec["components"]["schemas"]["SuggestAnswer"]
    assert sorted(answer["required"]) == ["diagnoses", "notices", "procedures"]
    docs = httpx.get(server + "/docs", timeout=30)
    assert docs.status_code == 200 and "/api/suggest" in docs.text


# --- the page ----------------------------------------------------------------------------------


def _note_view(html: str) -> str:
    found = re.search(r'<div class="note" id="note-view">(.*?)</div>', html, re.S)
    assert found is not None
    return found.group(1)


def _expected_view(kb, text: str) -> str:
    found = casenote.run(kb, text)
    out = []
    for p in pieces(text, [*found.diagnoses, *found.procedures]):
        if p.codes:
            out.append(f'<mark title="{escape(", ".join(p.codes))}">{escape(p.text)}</mark>')
        else:
            out.append(str(escape(p.text)))
    return "".join(out)


def test_page_form_is_labelled(server):
    r = httpx.get(server + "/suggest", timeout=30)
    assert r.status_code == 200
    page = Page(r.text)
    assert page.title == "Case2Code: codes from a note · medcode"
    assert page.canonical == "/suggest"
    assert [i.get("id") for i in page.inputs if i.get("id") not in page.labels_for] == []
    assert '<a href="/suggest">Case2Code</a>' in httpx.get(server + "/", timeout=30).text  # the nav link


def test_page_shows_codes_with_checkboxes_and_the_note_highlighted(server, kb, expected):
    r = post(server, "/suggest", data={"text": NOTE, "date": "2026-05-01", "setting": "office"})
    assert r.status_code == 200
    html = r.text
    boxes = re.findall(r'<input type="checkbox" name="(dx|px)" value="([^"]*)" checked>', html)
    want = [("dx", d["code"]) for d in expected["diagnoses"]] + [
        ("px", " ".join([p["code"], *p["modifiers"]])) for p in expected["procedures"]
    ]
    assert boxes == want
    assert _note_view(html) == _expected_view(kb, NOTE)
    assert "<mark " in _note_view(html)
    page = Page(html)
    assert [i.get("id") for i in page.inputs if i.get("id") not in page.labels_for] == []
    assert '<input type="hidden" name="date" value="2026-05-01">' in html


def test_page_never_renders_note_text_as_html(server, kb):
    r = post(server, "/suggest", data={"text": HOSTILE})
    assert r.status_code == 200
    html = r.text
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>gout" not in html
    assert _note_view(html) == _expected_view(kb, HOSTILE)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # in the textarea and the note view
    assert re.search(r"<textarea[^>]*>&lt;script&gt;alert", html)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"text": ""}, 422, "The note is empty: there is no note to read"),
        ({"text": "  \r\n "}, 422, "The note is empty: there is no note to read"),
        ({"text": "gout\x00\x01\x02"}, 422, "The note has NUL at line 1, column 5: it is not a text note"),
        (
            {"text": "x" * (LIMIT + 1)},
            413,
            "The note is 102,401 bytes: over the limit of 102,400 (MEDCODE_MAX_NOTE_KB)",
        ),
        ({"text": "gout", "date": "05/01/2026"}, 422, "The date &#39;05/01/2026&#39; is not a date (YYYY-MM-DD)."),
        ({"text": "gout", "setting": "home"}, 422, "The setting &#39;home&#39; is not one of office, facility."),
    ],
    ids=["empty", "blank", "binary", "huge", "bad-date", "bad-setting"],
)
def test_page_refuses_with_a_message(server, form, status, message):
    r = post(server, "/suggest", data=form)
    assert r.status_code == status
    assert f'<p class="error" role="alert">{message}</p>' in r.text
    assert 'id="result"' not in r.text


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"text=%FF%FEgout", "application/x-www-form-urlencoded", 422, "The form cannot be read (UnicodeDecodeError)"),
        (b"text=" + b"x" * (LIMIT * 3 + 4097), "application/x-www-form-urlencoded", 413, "The form is larger than"),
        (b"gout", "text/plain", 415, "send the form as application/x-www-form-urlencoded"),
    ],
    ids=["not-utf8", "body-too-big", "not-a-form"],
)
def test_page_refuses_bodies_it_cannot_read(server, body, content_type, status, message):
    r = post(server, "/suggest", content=body, headers={"content-type": content_type})
    assert r.status_code == status
    assert f'<p class="error" role="alert">{message}' in r.text


# --- check as a claim --------------------------------------------------------------------------


def _claim_text(html: str) -> dict:
    found = re.search(r'<textarea id="claim-text"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None
    import html as html_mod

    return orjson.loads(html_mod.unescape(found.group(1)))


def test_check_as_a_claim_sends_the_accepted_codes(server):
    form = {
        "dx": ["M17.11", "I10"],
        "px": ["20610 RT", "J3301"],
        "date": "2026-05-01",
        "setting": "office",
        "zip": "10001",
    }
    r = post(server, "/suggest/claim", data=form)
    assert r.status_code == 200
    assert Page(r.text).title.startswith("Claim checker")
    assert _claim_text(r.text) == {
        "id": "CASE2CODE",
        "date": "2026-05-01",
        "place_of_service": "11",
        "zip": "10001",
        "diagnoses": ["M17.11", "I10"],
        "lines": [
            {"code": "20610", "units": 1, "modifiers": ["RT"], "pointers": [1, 2]},
            {"code": "J3301", "units": 1, "pointers": [1, 2]},
        ],
    }
    assert '<table class="findings">' in r.text and '<table class="priced">' in r.text
    assert "Claim CASE2CODE" in r.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"dx": "M17.11"}, "Accept at least one procedure code: a claim has at least one line."),
        ({"dx": "<script>", "px": "20610"}, "&#39;&lt;SCRIPT&gt;&#39; is not an ICD-10-CM code."),
        ({"px": "20610 RT XYZ"}, "&#39;20610 RT XYZ&#39; is not a CPT or HCPCS code with up to four modifiers."),
        ({"px": "20610", "date": "2026-13-01"}, "The date &#39;2026-13-01&#39; is not a date (YYYY-MM-DD)."),
        ({"px": "20610", "zip": "1000"}, "The ZIP code &#39;1000&#39; is not five digits (or ZIP+4)."),
    ],
    ids=["no-line", "bad-icd", "bad-modifier", "bad-date", "bad-zip"],
)
def test_check_as_a_claim_refuses_a_tampered_form(server, form, message):
    r = post(server, "/suggest/claim", data=form)
    assert r.status_code == 422
    assert f'<p class="error" role="alert">{message}</p>' in r.text


def test_cross_site_posts_are_refused(server):
    r = post(server, "/suggest/claim", data={"px": "20610"}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403


# --- the command line --------------------------------------------------------------------------


@pytest.fixture()
def cli_home(monkeypatch, home):
    monkeypatch.setenv("MEDCODE_HOME", str(home))
    monkeypatch.delenv("MEDCODE_LLM_URL", raising=False)


def test_cli_json_answers_what_the_core_answers(cli_home, tmp_path, capsysbinary, expected):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    assert cli.main(["suggest", str(note), "--json"]) == 0
    assert orjson.loads(capsysbinary.readouterr().out) == expected


def test_cli_reads_standard_input_and_prints_tables(cli_home, monkeypatch, capsys, expected):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(NOTE.encode())))
    assert cli.main(["suggest", "-"]) == 0
    out = capsys.readouterr().out
    assert "Diagnoses (ICD-10-CM), in reporting order" in out and "Procedures (CPT/HCPCS)" in out
    for item in expected["diagnoses"] + expected["procedures"]:
        assert item["code"] in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{path} does not exist"),
        ("folder", "{path} is a folder, not a note file"),
        (b"", "{path} is empty: there is no note to read"),
        (b"\n \n", "{path} is empty: there is no note to read"),
        (b"gout\nr\xe9sum\xe9", "{path} is not UTF-8: byte 6 (line 2) is 0xE9"),
        (b"\x7fELF\x02\x01\x01\x00\x00", "{path} has a NUL byte at byte 7 (line 1): it is not a text note"),
        (b"x" * (LIMIT + 1), "{path} is over the limit of 102,400 bytes (MEDCODE_MAX_NOTE_KB)"),
    ],
    ids=["missing", "folder", "empty", "blank", "latin1", "binary", "huge"],
)
def test_cli_refuses_a_note_it_cannot_read(cli_home, tmp_path, capsys, content, message):
    path = tmp_path / "note.txt"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    assert cli.main(["suggest", str(path)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"medcode: {message.format(path=path)}\n"


def test_cli_refuses_a_bad_date_and_setting(cli_home, tmp_path, capsys):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    for args, message in (
        (["--date", "2026-02-30"], "argument --date: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (["--setting", "home"], "argument --setting: invalid choice: 'home'"),
    ):
        with pytest.raises(SystemExit) as stop:
            cli.main(["suggest", str(note), *args])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


# --- the note stays out of the logs --------------------------------------------------------------


def test_no_note_text_in_logs(kb, caplog):
    secret = "Zebulon Quixote-Marchbanks has essential hypertension and gout."
    caplog.set_level(logging.DEBUG)
    conf = llm.Config("http://127.0.0.1:9", timeout=1)  # port 9 (discard): nothing answers there
    found = casenote.run(kb, secret, llm_conf=conf)
    assert len(found.diagnoses) >= 2  # so the model was asked
    assert found.notices[-1] == (
        "The language model was not used (cannot reach http://127.0.0.1:9/v1/chat/completions ([Errno 111] "
        "Connection refused)); medcode's own order is kept."
    )
    assert caplog.records  # something was logged (the failed re-rank at least), none of it the note
    assert "Zebulon" not in caplog.text and "Quixote" not in caplog.text


def test_page_lists_the_candidates_when_asked(server, kb):
    r = post(server, "/suggest", data={"text": NOTE, "all": "1"})
    assert r.status_code == 200
    found = casenote.run(kb, NOTE, include_all=True)
    assert found.candidates  # else this test shows nothing
    details = re.search(r'<details id="candidates">(.*?)</details>', r.text, re.S)
    assert details is not None
    assert re.findall(r'<a class="code" href="/codes/[^"]+">([^<]+)</a>', details.group(1)) == [
        c.code for c in found.candidates
    ]
    assert '<input type="checkbox" name="all" value="1" checked>' in r.text


def _item(code: str, *spans: tuple[int, int]) -> Suggested:
    return Suggested(code, "", 0.5, tuple(Evidence(s, e, "") for s, e in spans), "")


@pytest.mark.parametrize(
    ("items", "want"),
    [
        ([], [("gout of the left toe", ())]),
        ([_item("M10.9", (0, 4))], [("gout", ("M10.9",)), (" of the left toe", ())]),
        (
            [_item("M10.9", (0, 4)), _item("M10.072", (0, 20))],
            [("gout", ("M10.9", "M10.072")), (" of the left toe", ("M10.072",))],
        ),
        ([_item("A", (8, 12)), _item("B", (8, 12))], [("gout of ", ()), ("the ", ("A", "B")), ("left toe", ())]),
        ([_item("A", (-5, 4), (15, 99))], [("gout", ("A",)), (" of the lef", ()), ("t toe", ("A",))]),
        ([_item("A", (5, 5), (9, 3))], [("gout of the left toe", ())]),
    ],
    ids=["none", "one", "nested", "same-span", "clipped", "empty-spans"],
)
def test_note_pieces(items, want):
    assert [(p.text, p.codes) for p in pieces("gout of the left toe", items)] == want


def test_concurrent_notes_get_their_own_answers(server, kb):
    """Notes answered at once (two worker threads, the others waiting) give the answers one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    notes = [
        "Assessment: gout of the left great toe. Essential hypertension.",
        "Impression: acute appendicitis. Nausea and vomiting.",
        "Assessment: type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3a.",
        "Diagnosis: closed fracture of the right distal radius, initial encounter.",
        "Assessment: major depressive disorder, recurrent, moderate. Insomnia.",
        "Assessment: community-acquired pneumonia of the left lower lobe. Chronic obstructive pulmonary disease.",
    ]
    with ThreadPoolExecutor(len(notes)) as pool:
        answers = list(pool.map(lambda n: post(server, "/api/suggest", json={"text": n}), notes))
    assert [a.status_code for a in answers] == [200] * len(notes)
    assert [a.json() for a in answers] == [casenote.run(kb, n).as_json() for n in notes]
