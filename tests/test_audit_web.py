"""The documentation audit's interfaces over real HTTP (the ``server`` fixture) and as a real process:
POST /api/audit (the JSON contract, its errors), the /audit page without JavaScript (the form posts, the
server renders verdicts, highlighted evidence and queries), the code page's link, ``medcode audit``."""

from __future__ import annotations

import html as html_mod
import logging
import re
import subprocess
import sys
from datetime import date

import httpx
import orjson
import pytest
from test_web import Page

from medcode.audit import audit
from medcode.audit.model import MDM_LEVELS, STATUSES, Audit, CodeAudit, Element, Evidence
from medcode.web.pages.audit import FormError, codes_of, legend, note_view, queries_text

# An operative note that documents 20702's site, carrier, hand preparation and primary procedure, but
# names no drug (the vancomycin is only in the plan) and no amounts.
NOTE = (
    "Preoperative diagnosis: chronic osteomyelitis of the right tibia.\n"
    "Procedure: debridement of the right tibia and placement of a cement rod.\n"
    "Description: the infected tibia was debrided to bleeding bone and the canal was reamed. Bone cement was "
    "mixed by hand on the back table and molded over a guide wire into a rod, which was inserted into the "
    "medullary canal. The wound was closed in layers.\n"
    "Plan: vancomycin-loaded rod exchange in six weeks.\n"
)
CODES = ["20702", "11044"]
VISIT = (
    "Chief complaint: follow-up of type 2 diabetes and hypertension.\n"
    "History: glucose readings 140-180 at home; no chest pain.\n"
    "Data: reviewed the hemoglobin A1c of 8.4% and the basic metabolic panel; ordered a urine albumin test.\n"
    "Assessment: type 2 diabetes mellitus, not at goal. Essential hypertension, stable.\n"
    "Plan: increase metformin to 1000 mg twice daily; continue lisinopril.\n"
    "Total time on the date of the encounter: 32 minutes.\n"
)
HOSTILE = "<script>alert('x')</script>\nProcedure: <b>cement</b> beads mixed by hand & placed in the medullary canal.\n"
LIMIT = 100 * 1024  # MEDCODE_MAX_NOTE_KB's default
TIMEOUT = 180  # the first note of a fresh server may wait for the language layer to load


def post(server: str, path: str, **kw) -> httpx.Response:
    return httpx.post(server + path, timeout=TIMEOUT, **kw)


@pytest.fixture(scope="module")
def expected(kb) -> dict:
    """What the core answers for NOTE (the API, the page and the command must answer the same)."""
    return audit(kb, NOTE, CODES).as_json()


def _elements(answer: dict) -> list[tuple[dict, dict]]:
    return [(c, e) for c in answer["codes"] for e in c["elements"]]


# --- the JSON API ------------------------------------------------------------------------------


def test_api_answers_what_the_core_answers(server, expected):
    r = post(server, "/api/audit", json={"text": NOTE, "codes": CODES})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == expected
    # the contract of the issue
    assert [c["code"] for c in expected["codes"]] == CODES
    for c in expected["codes"]:
        assert isinstance(c["supported"], bool) and c["summary"]
        assert c["elements"]
    for _, e in _elements(expected):
        assert e["status"] in STATUSES and e["id"] and e["label"]
        for ev in e["evidence"]:
            assert NOTE[ev["start"] : ev["end"]] == ev["text"]
        assert (e["query"] is None) == (e["status"] == "present"), e
    # the note has both (else the page tests below show nothing)
    assert any(e["status"] == "present" and e["evidence"] for _, e in _elements(expected))
    assert any(e["status"] != "present" and e["query"] for _, e in _elements(expected))


def test_api_with_a_date_and_modifiers(server, kb):
    codes = ["20702", "11044 RT"]
    r = post(server, "/api/audit", json={"text": NOTE, "codes": codes, "date": "2026-05-01"})
    assert r.status_code == 200
    assert r.json() == audit(kb, NOTE, codes, day=date(2026, 5, 1)).as_json()
    assert r.json()["codes"][1]["modifiers"] == ["RT"]


def test_concurrent_audits_answer_as_serial_ones(server, kb):
    """Twenty audits at once, of different notes and codes, each answer its own note."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [(NOTE, CODES), (VISIT, ["99214"]), (VISIT, ["99215-25"]), (NOTE, ["20702-LT"])] * 5
    want = [audit(kb, text, codes).as_json() for text, codes in cases]
    with ThreadPoolExecutor(20) as pool:
        got = list(pool.map(lambda c: post(server, "/api/audit", json={"text": c[0], "codes": c[1]}).json(), cases))
    assert got == want


def test_api_answers_the_em_level(server, kb):
    want = audit(kb, VISIT, ["99214"]).as_json()
    r = post(server, "/api/audit", json={"text": VISIT, "codes": ["99214"]})
    assert r.status_code == 200 and r.json() == want
    level = want["codes"][0]["level"]
    assert level["mdm"] in MDM_LEVELS
    assert {"mdm", "problems", "data", "risk", "time_minutes", "supported_code"} <= set(level)


def _error(status: int, message: str, field: str, kind: str = "bad_input") -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message, "field": field}}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "answer"),
    [
        (
            b'{"text": "", "codes": ["20702"]}',
            "application/json",
            *_error(422, "text: String should have at least 1 character", "text"),
        ),
        (
            b'{"text": " \\n ", "codes": ["20702"]}',
            "application/json",
            *_error(422, "text is empty: there is no note to read", "text"),
        ),
        (
            b'{"text": "cement\\u0000", "codes": ["20702"]}',
            "application/json",
            *_error(422, "text has NUL at line 1, column 7: it is not a text note", "text"),
        ),
        (b'{"text": "cement"}', "application/json", *_error(422, "codes: Field required", "codes")),
        (
            b'{"text": "cement", "codes": []}',
            "application/json",
            *_error(422, "codes: List should have at least 1 item after validation, not 0", "codes"),
        ),
        (
            orjson.dumps({"text": "cement", "codes": ["20702"] * 51}),
            "application/json",
            *_error(422, "codes: List should have at most 50 items after validation, not 51", "codes"),
        ),
        (
            b'{"text": "cement", "codes": [20702]}',
            "application/json",
            *_error(422, "codes.0: Input should be a valid string", "codes.0"),
        ),
        (
            orjson.dumps({"text": "x" * (LIMIT + 1), "codes": ["20702"]}),
            "application/json",
            *_error(413, "text is 102,401 bytes: over the limit of 102,400 (MEDCODE_MAX_NOTE_KB)", "text", "too_large"),
        ),
        (
            b'{"text": "' + b" " * (LIMIT * 6 + 65536) + b'"}',
            "application/json",
            *_error(413, "the body is over the limit of 679,936 bytes", "body", "too_large"),
        ),
        (
            b'{"text": "cement", "codes": ["20702"], "code": "20702"}',
            "application/json",
            *_error(422, "code: Extra inputs are not permitted", "code"),
        ),
        (
            b'{"text": "cement", "codes": ["20702"], "date": "2026-02-30"}',
            "application/json",
            *_error(422, "'2026-02-30' is not a date (YYYY-MM-DD)", "date"),
        ),
        (
            b"cement",
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
        "no-codes",
        "zero-codes",
        "51-codes",
        "code-not-string",
        "note-too-big",
        "body-too-big",
        "extra-field",
        "bad-date",
        "text-plain",
    ],
)
def test_api_refuses_with_the_field_named(server, body, content_type, status, answer):
    r = post(server, "/api/audit", content=body, headers={"content-type": content_type})
    assert (r.status_code, r.json()) == (status, answer)


def test_api_refuses_an_unknown_code_naming_it(server):
    r = post(server, "/api/audit", json={"text": NOTE, "codes": ["20702", "1234Z"]})
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["type"], err["field"], err["code"]) == ("not_found", "codes.1", "1234Z")
    assert "1234Z" in err["message"] and isinstance(err["suggestions"], list)


@pytest.mark.parametrize("code", ["ABC", "20702-RTX!", "2070"])
def test_api_refuses_a_malformed_code_naming_it(server, code):
    r = post(server, "/api/audit", json={"text": NOTE, "codes": ["20702", code]})
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["type"], err["field"]) == ("malformed_code", "codes.1")
    assert err["message"]


def test_api_is_in_the_openapi_schema(server):
    spec = httpx.get(server + "/openapi.json", timeout=30).json()
    op = spec["paths"]["/api/audit"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(schema["properties"]) == ["codes", "date", "text"]
    assert sorted(schema["required"]) == ["codes", "text"]
    assert sorted(op["responses"]) == ["200", "413", "415", "422"]
    answer = spec["components"]["schemas"]["AuditAnswer"]
    assert sorted(answer["required"]) == ["codes", "notices"]


# --- the page ----------------------------------------------------------------------------------


def _note_view(html: str) -> str:
    found = re.search(r'<div class="note" id="audit-note"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None
    return found.group(1)


def _marked(view: str) -> list[str]:
    return [html_mod.unescape(m) for m in re.findall(r"<mark [^>]*>(.*?)</mark>", view, re.S)]


def test_page_form_is_labelled_and_linked(server):
    r = httpx.get(server + "/audit", timeout=30)
    assert r.status_code == 200
    page = Page(r.text)
    assert page.title == "Documentation audit: does the note support the code? · medcode"
    assert page.canonical == "/audit"
    assert [i.get("id") for i in page.inputs if i.get("id") not in page.labels_for] == []
    assert re.search(r'<button type="button" id="dictate"[^>]* hidden>Dictate</button>', r.text)  # JS shows it
    assert "medcode receives only that text, plain text as if typed" in r.text
    assert '<a href="/audit">Audit</a>' in httpx.get(server + "/", timeout=30).text  # the nav link


@pytest.mark.parametrize(
    ("query", "value"),
    [("?code=20702", "20702"), ("?code=20610-RT&code=99214", "20610-RT, 99214"), ("?code=%3Cscript%3E", "")],
    ids=["one", "two", "hostile"],
)
def test_page_prefills_the_codes(server, query, value):
    r = httpx.get(server + "/audit" + query, timeout=30)
    assert r.status_code == 200
    found = re.search(r'<input id="audit-codes" name="codes" value="([^"]*)"', r.text)
    assert found is not None and found.group(1) == value
    assert "<script>" not in r.text.split("<main", 1)[1]


def test_page_without_javascript_renders_verdicts_evidence_and_queries(server, expected):
    r = post(server, "/audit", data={"text": NOTE, "codes": ", ".join(CODES), "date": ""})
    assert r.status_code == 200
    html = r.text
    page = Page(html)
    assert [i.get("id") for i in page.inputs if i.get("id") not in page.labels_for] == []
    verdicts = re.findall(r'<span class="verdict (ok|off)" aria-label="Verdict: ([a-z ]+)">', html)
    assert verdicts == [("ok", "supported") if c["supported"] else ("off", "not supported") for c in expected["codes"]]
    rows = re.findall(r'<tr class="st-([a-z]+)" data-element="([a-z_]+)">', html)
    assert rows == [(e["status"], e["id"]) for _, e in _elements(expected)]
    view = _note_view(html)
    marked = "".join(_marked(view))
    labels = [html_mod.unescape(t) for t in re.findall(r'<span class="tag c[0-9]">([^<]*)</span>', view)]
    for c, e in _elements(expected):
        for ev in e["evidence"]:  # every element's words are marked in the note, with a visible label
            assert ev["text"] in NOTE and all(w in marked for w in ev["text"].split())
        if e["evidence"]:
            want = "-".join([c["code"], *c["modifiers"]]) + " " + e["id"]
            assert any(label.startswith(want) for label in labels), (want, labels)
    # the note (its text, without the labels) is the note
    plain = re.sub(r'<span class="tag c[0-9]">[^<]*</span>', "", view)
    assert html_mod.unescape(re.sub(r"<[^>]+>", "", plain)) == NOTE
    # every query, in the table and in the box that the Copy queries button copies
    box = re.search(r'<textarea id="queries-text"[^>]*>(.*?)</textarea>', html, re.S)
    assert box is not None
    copied = html_mod.unescape(box.group(1))
    for _, e in _elements(expected):
        if e["status"] != "present":
            assert html_mod.escape(e["query"], quote=True) in html or html_mod.escape(e["query"], quote=False) in html
            assert e["query"] in copied
    assert re.search(r'<button type="button" id="copy-queries"[^>]* hidden>Copy queries</button>', html)


def test_page_shows_the_em_level(server, kb):
    want = audit(kb, VISIT, ["99214"]).as_json()["codes"][0]["level"]
    r = post(server, "/audit", data={"text": VISIT, "codes": "99214"})
    assert r.status_code == 200
    table = re.search(r'<table class="level compact">(.*?)</table>', r.text, re.S)
    assert table is not None
    cells = re.findall(r"<td>(?:<strong>)?([^<]*)", table.group(1))
    minutes = "not stated" if want["time_minutes"] is None else f"{want['time_minutes']} minutes"
    assert cells == [
        want["problems"],
        want["data"],
        want["risk"],
        want["mdm"],
        minutes,
        want["by_mdm"] or "none",
        want["by_time"] or "none",
        want["supported_code"] or "none",
    ]


def test_page_never_renders_note_text_as_html(server):
    r = post(server, "/audit", data={"text": HOSTILE, "codes": "20702"})
    assert r.status_code == 200
    html = r.text
    assert "<script>alert" not in html and "<b>cement" not in html
    assert re.search(r"<textarea[^>]*>&lt;script&gt;alert", html)
    view = _note_view(html)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in view
    assert "<mark " in view


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"text": "", "codes": "20702"}, 422, "The note is empty: there is no note to read"),
        ({"text": "cement\x00", "codes": "20702"}, 422, "The note has NUL at line 1, column 7: it is not a text note"),
        ({"text": NOTE, "codes": " , "}, 422, "Enter at least one code billed (for example 20702 or 20610-RT)."),
        ({"text": NOTE, "codes": ",".join(["20702"] * 51)}, 422, "51 codes: an audit takes at most 50."),
        ({"text": NOTE, "codes": "20702", "date": "05/01/2026"}, 422, "The date &#39;05/01/2026&#39; is not a date"),
        (
            {"text": "x" * (LIMIT + 1), "codes": "20702"},
            413,
            "The note is 102,401 bytes: over the limit of 102,400 (MEDCODE_MAX_NOTE_KB)",
        ),
        ({"text": NOTE, "codes": "20702, 1234Z"}, 422, "1234Z is not in the knowledge base"),
    ],
    ids=["empty", "binary", "no-codes", "51-codes", "bad-date", "huge", "unknown-code"],
)
def test_page_refuses_with_a_message(server, form, status, message):
    r = post(server, "/audit", data=form)
    assert r.status_code == status
    assert f'<p class="error" role="alert">{message}' in r.text
    assert 'id="result"' not in r.text
    codes = re.search(r'<input id="audit-codes" name="codes" value="([^"]*)"', r.text)
    assert codes is not None and html_mod.unescape(codes.group(1)) == form["codes"].strip()  # kept for a retry


def test_page_refuses_a_body_that_is_not_the_form(server):
    r = post(server, "/audit", content=b"cement", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert '<p class="error" role="alert">send the form as application/x-www-form-urlencoded' in r.text


def test_cross_site_posts_are_refused(server):
    r = post(server, "/audit", data={"text": NOTE, "codes": "20702"}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = post(server, "/api/audit", json={"text": NOTE, "codes": ["20702"]}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403


def test_code_page_links_to_the_audit(server):
    for code in ("20702", "99214"):
        r = httpx.get(f"{server}/codes/{code}", timeout=30)
        assert r.status_code == 200
        section = re.search(r'<section id="documentation".*?</section>', r.text, re.S)
        assert section is not None
        assert f'<a id="audit-link" href="/audit?code={code}">Audit a note for {code}</a>' in section.group(0)


# --- the page's pieces, on answers built by hand --------------------------------------------------


def _hand_made() -> tuple[str, Audit]:
    text = "cement beads mixed by hand with vancomycin"
    done = Element("procedure_described", "Described", "present", (Evidence(0, 42, text),))
    beads = Element("carrier", "Carrier", "present", (Evidence(0, 12, "cement beads"),))
    hand = Element("manual_preparation", "By hand", "present", (Evidence(7, 26, "beads mixed by hand"),))
    drug = Element("drug", "Drug", "negated", (Evidence(32, 42, "vancomycin"),), query="Which drug?")
    qty = Element("quantity", "Quantity", "missing", query="How much?", required=False)
    item = CodeAudit("20700", ("RT",), "", "drug_delivery", False, "Not supported.", (done, beads, hand, drug, qty))
    return text, Audit((item,))


def test_note_view_marks_each_element_and_labels_where_its_evidence_ends():
    text, found = _hand_made()
    marks = legend(found)
    assert [(m.key, m.colour, m.tag) for m in marks.values()] == [
        ("0-0", "c0", "20700-RT procedure_described"),
        ("0-1", "c1", "20700-RT carrier"),
        ("0-2", "c2", "20700-RT manual_preparation"),
        ("0-3", "c3", "20700-RT drug, negated"),
    ]
    view = note_view(text, found, marks)
    # the narrowest element first (its colour shows); the sentence-wide one last
    assert [(p.text, p.keys, [t.key for t in p.tags]) for p in view] == [
        ("cement ", ("0-1", "0-0"), []),
        ("beads", ("0-1", "0-2", "0-0"), ["0-1"]),
        (" mixed by hand", ("0-2", "0-0"), ["0-2"]),
        (" with ", ("0-0",), []),
        ("vancomycin", ("0-3", "0-0"), ["0-3", "0-0"]),
    ]
    assert "".join(p.text for p in view) == text
    assert queries_text(found) == "20700-RT: Which drug?\n20700-RT: How much?"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("20702", ["20702"]),
        ("20702, 20610-RT;99214 25\n11044", ["20702", "20610-RT", "99214 25", "11044"]),
        (" 20702 ,, ", ["20702"]),
    ],
)
def test_codes_of_the_form(text, want):
    assert codes_of(text) == want


@pytest.mark.parametrize("text", ["", " , ;", ",".join(["20702"] * 51), "2" * 41])
def test_codes_of_the_form_refused(text):
    with pytest.raises(FormError):
        codes_of(text)


# --- the command line, as a real process ---------------------------------------------------------


def medcode(env: dict, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medcode.cli", *args], env=env, input=stdin, capture_output=True, timeout=300
    )


def test_cli_json_answers_what_the_core_answers(cli_env, tmp_path, expected):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    r = medcode(cli_env, "audit", str(note), *(a for c in CODES for a in ("--code", c)), "--json")
    assert r.returncode == 0, r.stderr
    assert orjson.loads(r.stdout) == expected


def test_cli_prints_verdicts_elements_and_queries(cli_env, expected):
    r = medcode(cli_env, "audit", "-", "--code", "20702", "--code", "11044", stdin=NOTE.encode())
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.decode().split())  # (rich wraps long lines)
    for c in expected["codes"]:
        assert f"{c['code']} " in out
        assert ("✓ supported" if c["supported"] else "✗ not supported") in out
    assert "Queries to the physician" in out
    words = " ".join(out.split())
    for _, e in _elements(expected):
        assert e["id"] in words
        if e["status"] != "present":
            assert f"{e['status']}" in words
            assert " ".join(e["query"].split()[:4]) in words


@pytest.mark.parametrize(
    ("content", "codes", "status", "message"),
    [
        (None, ["20702"], 2, "medcode: {path} does not exist\n"),
        (b"", ["20702"], 2, "medcode: {path} is empty: there is no note to read\n"),
        (
            b"\x7fELF\x02\x01\x01\x00\x00",
            ["20702"],
            2,
            "medcode: {path} has a NUL byte at byte 7 (line 1): it is not a text note\n",
        ),
        (
            b"x" * (LIMIT + 1),
            ["20702"],
            2,
            "medcode: {path} is over the limit of 102,400 bytes (MEDCODE_MAX_NOTE_KB)\n",
        ),
        (NOTE.encode(), ["ABC"], 2, "medcode: --code 'ABC'"),
        (NOTE.encode(), ["20702", "1234Z"], 1, "medcode: --code 1234Z: "),
        (NOTE.encode(), ["20702"] * 51, 2, "medcode: "),
    ],
    ids=["missing", "empty", "binary", "huge", "malformed-code", "unknown-code", "51-codes"],
)
def test_cli_refuses_with_a_message(cli_env, tmp_path, content, codes, status, message):
    path = tmp_path / "note.txt"
    if content is not None:
        path.write_bytes(content)
    r = medcode(cli_env, "audit", str(path), *(a for c in codes for a in ("--code", c)))
    assert r.returncode == status
    err = r.stderr.decode()
    assert err.startswith(message.format(path=path)), err
    assert "Traceback" not in err and r.stdout == b""


def test_cli_needs_a_code(cli_env, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    r = medcode(cli_env, "audit", str(note))
    assert r.returncode == 2
    assert "the following arguments are required: --code" in r.stderr.decode()


# --- the note stays out of the logs --------------------------------------------------------------


def test_no_note_text_in_logs(kb, caplog):
    secret = "Zebulon Quixote-Marchbanks: cement beads mixed by hand, placed in the medullary canal."
    caplog.set_level(logging.DEBUG)
    audit(kb, secret, ["20702"])
    assert "Zebulon" not in caplog.text and "Quixote" not in caplog.text
