"""The PPRRVU pre-, intra- and post-operative shares of a global package (columns 107-115) and the
physician supervision of diagnostic procedures indicator (columns 142-143): on the code page
(``get_code``), in ``medcode show``, the JSON API, the HTML page and CasePilot's answers.

Expected values are read from the official fixed-width file itself (RVU26B, the newest release,
which ``get_code`` uses by default), by the offsets of its record layout, not through the ingest."""

from __future__ import annotations

import contextlib
import html
import io
import re
from functools import cache
from pathlib import Path

import httpx
import orjson
import pytest

from medcode import cli, rules, vocab
from medcode.assistant.answers_codes import ANSWERS
from medcode.assistant.model import Answer, Question
from medcode.kb.models import DiagnosisCode, GlobalShares, ProcedureCode
from medcode.kb.store import KnowledgeBase
from medcode.lookup import get_code

PPRRVU_2026 = Path("cms/pfs/rvu26b/PPRRVU2026_Apr_nonQPP.txt")
# RVU26B.pdf, "Physician Supervision of Diagnostic Procedures": the values the record layout defines
SUPERVISION_VALUES = {"01", "02", "03", "04", "05", "06", "21", "22", "66", "6A", "77", "7A", "09"}
ON_FILE_2026 = ("01", "02", "03", "04", "05", "09", "21", "66", "6A", "7A")  # 06, 22 and 77 are on no row


@cache
def _raw(data_dir: Path) -> dict[tuple[str, str], str]:
    """(code, modifier) -> the line of the 2026 fixed-width PPRRVU file."""
    out = {}
    for line in (data_dir / PPRRVU_2026).read_text(encoding="latin-1").splitlines():
        if not line.startswith("HDR"):
            out[(line[0:5], line[5:7].strip())] = line
    return out


def raw_row(data_dir: Path, code: str, modifier: str = "") -> dict[str, str]:
    line = _raw(data_dir)[(code, modifier)]
    return {
        "global": line[103:106],
        "preop": line[106:109],
        "intraop": line[109:112],
        "postop": line[112:115],
        "supervision": line[141:143],
    }


def raw_shares(row: dict[str, str]) -> GlobalShares | None:
    pre, intra, post = (float(row[k]) for k in ("preop", "intraop", "postop"))
    return GlobalShares(pre, intra, post) if pre or intra or post else None


def first_code(data_dir: Path, keep) -> tuple[str, str]:
    """The first (code, modifier) of the 2026 file whose raw row ``keep`` accepts."""
    return next(k for k in sorted(_raw(data_dir)) if keep(raw_row(data_dir, *k)))


def page(kb: KnowledgeBase, code: str) -> ProcedureCode:
    p = get_code(kb, code)
    assert isinstance(p, ProcedureCode)
    return p


def supervision_of(p: ProcedureCode, modifier: str) -> str | None:
    indicators = p.indicators if not modifier else next(m for m in p.modifiers if m.modifier == modifier).indicators
    found = indicators.get("phys_supervision")
    return found.code if found else None


# --- the code page --------------------------------------------------------------------------

CASES = {
    "090-global": lambda r: r["global"] == "090" and r["preop"] != ".00",
    "010-global": lambda r: r["global"] == "010",
    "000-global": lambda r: r["global"] == "000",
    "add-on-zzz": lambda r: r["global"] == "ZZZ",
    **{f"supervision-{v}": (lambda r, v=v: r["supervision"] == v) for v in sorted(ON_FILE_2026)},
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_page_has_the_rows_shares_and_supervision(kb, data_dir, case) -> None:
    code, modifier = first_code(data_dir, CASES[case])
    row = raw_row(data_dir, code, modifier)
    p = page(kb, code)
    if not modifier:
        assert p.global_shares == raw_shares(row)
    assert supervision_of(p, modifier) == row["supervision"]
    meaning = (p.indicators if not modifier else {}).get("phys_supervision")
    if meaning is not None:
        assert meaning.meaning == vocab.meaning("phys_supervision", row["supervision"])


def test_shares_are_fractions_that_make_the_whole(kb) -> None:
    """Every row's shares are all zero (no page field) or add up to the whole package."""
    rows = kb.query("SELECT hcpcs, preop, intraop, postop FROM rvus")
    with_shares = [r for r in rows if any(r[1:])]
    assert len(with_shares) > 1000
    bad = [r for r in with_shares if abs(sum(r[1:]) - 1) > 1e-9 or not all(0 <= x <= 1 for x in r[1:])]
    assert bad == []


def test_every_supervision_value_on_file_has_a_meaning_and_only_those_documented(kb) -> None:
    on_file = {v for (v,) in kb.query("SELECT DISTINCT phys_supervision FROM rvus")}
    assert on_file <= SUPERVISION_VALUES
    assert set(vocab.indicators()["phys_supervision"]) == SUPERVISION_VALUES
    assert "phys_supervision" in rules.INDICATOR_NAMES and "phys_supervision" in rules.INDICATOR_SOURCES


def test_percents_read_the_fractions() -> None:
    assert GlobalShares(0.1, 0.69, 0.21).percents() == {"preop": "10%", "intraop": "69%", "postop": "21%"}
    assert GlobalShares(0.09, 0.84, 0.07).percents() == {"preop": "9%", "intraop": "84%", "postop": "7%"}


def test_codes_without_them(kb) -> None:
    icd = get_code(kb, "E11.9")
    assert isinstance(icd, DiagnosisCode) and not hasattr(icd, "global_shares")
    no_row = next(
        c
        for (c,) in kb.query(
            "SELECT code FROM hcpcs_codes WHERE record_id = '3' AND code NOT IN (SELECT hcpcs FROM rvus) LIMIT 1"
        )
    )
    p = page(kb, no_row)
    assert (p.global_shares, p.indicators.get("phys_supervision")) == (None, None)


# --- medcode show, over one code of each shape ----------------------------------------------


def _show(argv: list[str]) -> tuple[int, str]:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(argv)
    out.flush()
    return status, out.buffer.getvalue().decode("utf-8")


def _shapes(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """(code, date) of one code for each (release, global period, supervision value, has shares, has a
    modifier row) found in the fee schedule, and a code without a fee schedule row."""
    seen: dict[tuple, tuple[str, str]] = {}
    for rel in kb.releases["pprrvu"]:
        for code, mod, glob, sup, shares in kb.query(
            "SELECT hcpcs, modifier, global_days, phys_supervision, preop + intraop + postop > 0 FROM rvus "
            "WHERE release_id = ? ORDER BY hcpcs, modifier",
            (rel.ids[0],),
        ):
            seen.setdefault((rel.name, glob, sup, shares, mod != ""), (code, rel.effective_from.isoformat()))
    return sorted(set(seen.values()))


def test_show_every_shape(kb, cli_env, monkeypatch) -> None:
    monkeypatch.setenv("MEDCODE_HOME", cli_env["MEDCODE_HOME"])
    shapes = _shapes(kb)
    assert len(shapes) > 30
    failures = []
    for code, day in [*shapes, ("E11.9", ""), ("E0601", "")]:
        argv = ["show", code, *(["--date", day] if day else [])]
        status, human = _show(argv)
        status_json, out = _show([*argv, "--json"])
        if status or status_json:
            failures.append(f"{argv}: exit {status}, {status_json}")
            continue
        d = orjson.loads(out)
        shares = d.get("global_shares")
        if ("Global package shares" in human) != bool(shares):
            failures.append(f"{argv}: shares {shares} but the human output differs")
        sup = (d.get("indicators") or {}).get("phys_supervision")
        if sup and f"Physician supervision: {sup['code']}:" not in human:
            failures.append(f"{argv}: supervision {sup['code']} not shown")
    assert failures == []


# --- the JSON API and the HTML page ---------------------------------------------------------


def _words(text: str) -> str:
    """The page's text, a space for each tag (none before ; and :)."""
    return re.sub(r" ([;:])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", html.unescape(text)).split()))


def test_api_and_page_of_a_090_code(server, data_dir) -> None:
    row = raw_row(data_dir, "27447")
    shares = raw_shares(row)
    assert shares is not None
    d = httpx.get(f"{server}/api/codes/27447", timeout=60).json()
    assert d["global_shares"] == {"preop": shares.preop, "intraop": shares.intraop, "postop": shares.postop}
    assert d["indicators"]["phys_supervision"] == {
        "code": row["supervision"],
        "meaning": vocab.meaning("phys_supervision", row["supervision"]),
    }
    words = _words(httpx.get(f"{server}/codes/27447", timeout=60).text)
    pct = shares.percents()
    expected = "; ".join(f"{rules.GLOBAL_SHARE_NAMES[k]} {pct[k]}" for k in ("preop", "intraop", "postop"))
    assert f"Global package shares {expected}" in words


def test_page_of_a_code_with_a_tc_row_shows_its_supervision(server, data_dir) -> None:
    tc = raw_row(data_dir, "74177", "TC")["supervision"]
    assert tc != raw_row(data_dir, "74177")["supervision"]
    words = _words(httpx.get(f"{server}/codes/74177", timeout=60).text)
    assert f"Physician supervision (74177-TC) {tc}: {vocab.meaning('phys_supervision', tc)}" in words
    assert "Global package shares" not in words
    d = httpx.get(f"{server}/api/codes/74177", timeout=60).json()
    assert d["global_shares"] is None
    assert next(m for m in d["modifiers"] if m["modifier"] == "TC")["indicators"]["phys_supervision"]["code"] == tc


def test_api_and_pages_of_codes_without_them(server, kb) -> None:
    icd = httpx.get(f"{server}/api/codes/E11.9", timeout=60).json()
    assert "global_shares" not in icd
    (no_row,) = kb.query(
        "SELECT code FROM hcpcs_codes WHERE record_id = '3' AND code NOT IN (SELECT hcpcs FROM rvus) LIMIT 1"
    )[0]
    d = httpx.get(f"{server}/api/codes/{no_row}", timeout=60).json()
    assert (d["global_shares"], d["indicators"]) == (None, {})
    for code in ("E11.9", no_row, "45378"):
        r = httpx.get(f"{server}/codes/{code}", timeout=60)
        assert r.status_code == 200 and "Global package shares" not in _words(r.text), code
    schema = httpx.get(f"{server}/openapi.json", timeout=60).json()["components"]["schemas"]
    assert set(schema["GlobalShares"]["properties"]) == {"preop", "intraop", "postop"}


# --- CasePilot ------------------------------------------------------------------------------


def ask(kb, kind: str, text: str, code: str, **kw) -> Answer:
    return ANSWERS[kind](kb, Question(text=text, kind=kind, codes=(code,), **kw))


def row_numbers(data_dir: Path, code: str, modifiers: tuple[str, ...], release: str) -> set[str]:
    """The numbers a grounded answer may say: those of the cited rows (codes, fields, shares as
    percentages, global days) and of the release name."""
    out = set(re.findall(r"\d+", release)) | set(re.findall(r"\d+", code))
    for mod in ("", *modifiers):
        row = raw_row(data_dir, code, mod)
        out |= {v.lstrip("0") or "0" for v in re.findall(r"\d+", " ".join(row.values()))}
        out |= set(re.findall(r"\d+", " ".join(row.values())))
        for k in ("preop", "intraop", "postop"):
            out.add(f"{round(float(row[k]) * 100):d}")
    return out


def assert_numbers_grounded(a: Answer, allowed: set[str]) -> None:
    said = set(re.findall(r"\d+", a.answer))
    assert said <= allowed, (said - allowed, a.answer)


GLOBAL_CASES = {
    "090": lambda r: r["global"] == "090" and r["preop"] != ".00",
    "010": lambda r: r["global"] == "010",
    "000": lambda r: r["global"] == "000",
    "XXX": lambda r: r["global"] == "XXX",
}


@pytest.mark.parametrize("case", list(GLOBAL_CASES), ids=list(GLOBAL_CASES))
def test_global_answer_gives_the_rows_split(kb, data_dir, case) -> None:
    code, _ = first_code(data_dir, lambda r: GLOBAL_CASES[case](r))
    row = raw_row(data_dir, code)
    a = ask(kb, "global", f"How is the {code} global package split between pre-op, intra-op and post-op?", code)
    shares = raw_shares(row)
    if shares is None:
        assert "gives no pre-, intra- or post-operative shares" in a.answer
    else:
        for k, v in shares.percents().items():
            assert f"{rules.GLOBAL_SHARE_NAMES[k].lower()} {v}" in a.answer
    assert a.confidence == "high"
    assert [(c.family, c.row) for c in a.citations] == [("pprrvu", code)]
    assert_numbers_grounded(a, row_numbers(data_dir, code, (), a.citations[0].release))


def test_global_days_question_says_no_split(kb) -> None:
    a = ask(kb, "global", "How many postoperative days does 17110 have?", "17110")
    assert "%" not in a.answer


SUPERVISION_CASES = {
    "01": lambda r: r["supervision"] == "01",
    "02": lambda r: r["supervision"] == "02",
    "09": lambda r: r["supervision"] == "09",
    "21": lambda r: r["supervision"] == "21",
}


@pytest.mark.parametrize("value", list(SUPERVISION_CASES), ids=[f"supervision-{v}" for v in SUPERVISION_CASES])
def test_supervision_answer_gives_the_rows_indicator(kb, data_dir, value) -> None:
    code, modifier = first_code(data_dir, SUPERVISION_CASES[value])
    mods = {code: (modifier,)} if modifier else {}
    a = ask(kb, "indicators", f"What physician supervision does {code} need?", code, modifiers=mods)
    meaning = vocab.meaning("phys_supervision", value)
    assert meaning is not None and f"indicator {value}: {meaning}".lower() in a.answer.lower()
    assert a.confidence == "high"
    rows = {c.row for c in a.citations if c.family == "pprrvu"}
    assert code in rows and (not modifier or f"{code}-{modifier}" in rows)
    assert_numbers_grounded(a, row_numbers(data_dir, code, tuple(mods.get(code, ())), a.citations[0].release))


def test_supervision_of_a_tc_row_is_named_without_asking_for_it(kb, data_dir) -> None:
    own, tc = raw_row(data_dir, "70450")["supervision"], raw_row(data_dir, "70450", "TC")["supervision"]
    assert own != tc
    a = ask(kb, "indicators", "What supervision level does 70450 require?", "70450")
    assert f"For 70450-TC: indicator {tc}" in a.answer and f"Indicator {own}" in a.answer
    assert {c.row for c in a.citations} == {"70450", "70450-TC"}


def test_supervision_of_a_code_without_a_row_is_low(kb) -> None:
    a = ask(kb, "indicators", "What supervision level does E0601 require?", "E0601")
    assert a.confidence == "low" and "no physician supervision indicator" in a.answer
