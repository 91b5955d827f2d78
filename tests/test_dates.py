"""Dates of edits and releases (docs/claims.md, "Dates of edits and releases"): NCCI deletion
dates, the add-on edit in force on a day on the code page and in both claim engines, Excludes1
notes of blocks and chapters, claims with no release in force, no crash on codes the PTP file
does not list, and the claim checker's caches kept within their bounds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from medcode.claims import Checker, Claim, Line
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import from_claims
from medcode.claims.checks import diagnosis
from medcode.claims.facts import ANSWERS_KEPT, Facts
from medcode.kb import ncci
from medcode.lookup import get_code, ptp_pairs

D = date.fromisoformat


def both(kb, claims: list[Claim]) -> list:
    """The claims checked by both engines, which must agree; the per-claim results."""
    one = [Checker(kb).check(c) for c in claims]
    assert BatchChecker(kb).check(*from_claims(claims)).to_checked() == one
    return one


def lines(*codes: str, day: date | None = None) -> tuple[Line, ...]:
    return tuple(Line(i + 1, c, pointers=(1,), date=day) for i, c in enumerate(codes))


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effective", "deleted", "day", "expected"),
    [
        ("2020-01-01", "2022-12-31", "2022-12-31", True),  # the deletion date is the last day in force
        ("2020-01-01", "2022-12-31", "2023-01-01", False),
        ("2023-01-01", None, "2022-12-31", False),
        ("2023-01-01", None, "2023-01-01", True),
        ("2019-01-01", "2019-01-01", "2019-01-01", False),  # deleted back to its start: never in force
        (None, "2022-12-31", "1996-01-01", True),  # no effective date (the 2024 PTP files)
        (None, None, "9999-12-31", True),
        (20200101, 20221231, 20221231, True),
        (20200101, 20221231, 20230101, False),
        (None, 20200101, 20200101, True),  # a PTP edit with no effective date, deleted that day
    ],
    ids=[
        "last-day",
        "day-after",
        "before-effective",
        "effective-day",
        "retroactive",
        "no-effective",
        "no-dates",
        "ptp-last-day",
        "ptp-day-after",
        "ptp-no-effective",
    ],
)
def test_in_force(effective, deleted, day, expected):
    assert ncci.in_force(effective, deleted, day) is expected


def test_sql_and_polars_forms_agree_with_the_rule(kb):
    """Every add-on edit row on the days around each of its dates: the SQL and Polars forms of the
    rule say what ``in_force`` says."""
    import polars as pl

    rows = kb.query("SELECT effective, deleted FROM aoc_edits")
    days = sorted({(D(d) + timedelta(n)).isoformat() for e, x in rows for d in (e, x) if d for n in (-1, 0, 1)})
    frame = pl.DataFrame(rows, schema={"effective": pl.String, "deleted": pl.String}, orient="row").unique()
    for day in days[:: max(1, len(days) // 40)]:
        want = sorted(((e, x) for e, x in frame.iter_rows() if ncci.in_force(e, x, day)), key=repr)
        got = sorted(frame.filter(ncci.in_force_expr(pl.lit(day))).iter_rows(), key=repr)
        sql = sorted(
            set(kb.query(f"SELECT effective, deleted FROM aoc_edits WHERE {ncci.IN_FORCE_SQL}", (day, day))), key=repr
        )
        assert got == want == sql, day


def test_aoc_handovers_leave_no_gap_and_no_overlap(kb):
    """Wherever the add-on file ends an edit of an add-on and primary code on one day and starts
    another the next day (20701: type 1 deleted 2022365, type 3 effective 2023001), exactly one is
    in force on each of the two days."""
    rows = kb.query("SELECT addon_code, primary_code, edit_type, effective, deleted FROM aoc_edits")
    by_pair: dict[tuple[str, str], list[tuple]] = {}
    for addon, primary, etype, eff, dele in rows:
        by_pair.setdefault((addon, primary), []).append((etype, eff, dele))
    handovers = 0
    for pair, edits in by_pair.items():
        starts = {eff for _, eff, _ in edits if eff}
        for _, eff, dele in edits:
            after = (D(dele) + timedelta(1)).isoformat() if dele and dele != eff else None
            if after in starts:
                handovers += 1
                for day in (dele, after):
                    assert sum(ncci.in_force(e, x, day) for _, e, x in edits) == 1, (pair, day)
                # read as the first day out, the deletion day would have no edit at all
                assert not any((e is None or e <= dele) and (x is None or x > dele) for _, e, x in edits)
    assert handovers == 36  # 20701 has 7 of them


# --- the add-on edit in force: code page and both engines ---------------------------------------


@pytest.mark.parametrize(
    ("code", "day", "edit_type", "primaries"),
    [
        ("20701", "2022-06-01", "1", 76),
        ("20701", "2022-12-31", "1", 76),
        ("20701", "2023-01-01", "3", 42),
        ("37252", "2025-06-01", "1", 200),
        ("37252", "2025-12-31", "1", 200),
        ("37252", "2026-01-01", "1", 226),
        ("37252", "2026-06-01", "1", 226),
    ],
    ids=[
        "20701-2022",
        "20701-last-type-1-day",
        "20701-first-type-3-day",
        "37252-2025",
        "37252-last-2025-day",
        "37252-2026-first-day",
        "37252-2026",
    ],
)
def test_addon_edit_in_force_on_the_code_page_and_in_the_checker(kb, code, day, edit_type, primaries):
    page = get_code(kb, code, day=D(day))
    facts = Facts(kb).addon(code, D(day))
    assert (page.addon.type, len(page.addon.primary_codes)) == (edit_type, primaries)
    assert (facts["type"], facts["primaries"]) == (edit_type, frozenset(page.addon.primary_codes))


def test_37252_in_2025_lists_no_primary_code_of_2026(kb):
    new = {
        p
        for (p,) in kb.query(
            "SELECT primary_code FROM aoc_edits WHERE addon_code = '37252' AND effective = '2026-01-01'"
        )
    }
    assert len(new) == 47
    assert not new & set(get_code(kb, "37252", day=D("2025-06-01")).addon.primary_codes)
    assert new <= set(get_code(kb, "37252", day=D("2026-06-01")).addon.primary_codes)


def test_addon_codes_of_a_primary_on_a_day(kb):
    """20701 lists 11010 as a primary code on both sides of its handover, 0836T lists 88177 only
    through 2024-03-31."""
    assert "20701" in get_code(kb, "11010", day=D("2022-12-31")).addon_codes
    assert "20701" in get_code(kb, "11010", day=D("2023-01-01")).addon_codes
    assert "0836T" in get_code(kb, "88177", day=D("2024-03-31")).addon_codes
    assert "0836T" not in get_code(kb, "88177", day=D("2024-04-01")).addon_codes


@pytest.mark.parametrize(
    ("day", "severity"),
    [
        ("2022-06-01", "deny"),
        ("2022-12-31", "deny"),
        ("2023-01-01", "warn"),
        ("2023-06-01", "warn"),
    ],
    ids=["type-1", "type-1-last-day", "type-3-first-day", "type-3"],
)
def test_addon_type_on_the_date_in_both_engines(kb, day, severity):
    [checked] = both(kb, [Claim("A", lines("20701", day=D(day)), D(day), zip_code="10001", diagnoses=("M86.9",))])
    assert [(f.id, f.severity, f.lines) for f in checked.findings if f.id.startswith("addon")] == [
        ("addon.no_primary", severity, (1,))
    ]


def test_addon_types_of_several_days_in_one_run(kb):
    """The batch engine words an add-on finding once per set of edits in force: the last day of
    type 1 and the first of type 3 must not share a wording."""
    days = ["2022-12-30", "2022-12-31", "2023-01-01", "2023-01-02"]
    checked = both(kb, [Claim(d, lines("20701", day=D(d)), D(d), zip_code="10001", diagnoses=("M86.9",)) for d in days])
    assert [[f.severity for f in c.findings if f.id == "addon.no_primary"] for c in checked] == [
        ["deny"],
        ["deny"],
        ["warn"],
        ["warn"],
    ]


# --- PTP deletion dates ----------------------------------------------------------------------

PTP_PAIR = ("00100", "99318")  # 2024 Q2 practitioner file: one row, modifier 0, deleted 20221231


@pytest.mark.parametrize(
    ("day", "in_force"), [("2022-12-31", True), ("2023-01-01", False)], ids=["deletion-day", "day-after"]
)
def test_ptp_deletion_date_everywhere(kb, day, in_force):
    a, b = PTP_PAIR
    store = kb.resolve("ptp_practitioner", D(day)).release.store
    assert kb.ptp(store).execute(
        "SELECT modifier, deleted FROM ptp_edits WHERE column_1 = ? AND column_2 = ?", PTP_PAIR
    ).fetchall() == [(0, 20221231)]
    assert (Facts(kb).ptp(a, b, D(day)) is not None) is in_force
    page = ptp_pairs(kb, a, day=D(day), limit=1000)
    assert page.total == len(page.pairs)  # the counts table follows the same rule
    assert any(p.column_2 == b for p in page.pairs) is in_force
    [checked] = both(kb, [Claim("P", lines(a, b, day=D(day)), D(day), zip_code="10001", diagnoses=("M86.9",))])
    assert [(f.id, f.lines) for f in checked.findings if f.id.startswith("ptp")] == (
        [("ptp.bundled", (2, 1))] if in_force else []
    )


# --- Excludes1 notes of blocks and chapters -------------------------------------------------------


@pytest.mark.parametrize(
    ("dx", "expected"),
    [
        (("E16.2", "P70.4"), ["E16.2 and P70.4 are billed together, but chapter 4"]),
        (
            ("O26.891", "Z34.00"),
            [
                "O26.891 and Z34.00 are billed together, but chapter 15",
                "Z34.00 and O26.891 are billed together, but Z34",
            ],
        ),
        (("E16.2", "P72.1"), ["E16.2 and P72.1 are billed together, but chapter 4"]),  # inside P70-P74
        (("E16.2", "P72.1", "E16.2"), ["E16.2 and P72.1 are billed together, but chapter 4"]),  # once per pair
        (("E16.2", "E11.9"), []),
    ],
    ids=["chapter-4", "chapter-15-and-category", "range", "repeated-code", "none"],
)
def test_excludes1_reaches_blocks_and_chapters(kb, dx, expected):
    [checked] = both(kb, [Claim("X", lines("99213"), D("2026-05-01"), zip_code="10001", diagnoses=dx)])
    found = [f for f in checked.findings if f.id == "diagnosis.excludes1"]
    assert [f.message.split(" has an Excludes1")[0] for f in found] == expected
    assert {f.severity for f in found} <= {"warn"}


def test_excludes1_grows_with_the_diagnoses_not_their_square(kb):
    """5,600 distinct diagnoses take well under a second (every pair tested: 31 million), and
    the findings equal those of testing every pair, on a part small enough to test that way."""
    day = D("2026-05-01")
    codes = [
        c
        for (c,) in kb.query(
            "SELECT code FROM icd10cm_codes WHERE release_id = ? AND billable = 1 AND chapter IN "
            "('1', '3', '6', '8', '10', '11', '12', '16', '18') ORDER BY seq LIMIT 5600",
            (kb.resolve("icd10cm", day).release.ids[0],),
        )
    ]
    assert len(codes) == 5600
    facts = Facts(kb)
    for c in codes:
        facts.icd(c, day)
    start = time.perf_counter()
    found = list(diagnosis.excludes1_findings(facts, codes, day))
    assert time.perf_counter() - start < 1.0
    part = codes[::25]
    every_pair = [
        hit
        for a in part
        for b in part
        if a != b
        if (hit := diagnosis.excludes1(facts.icd(a, day), facts.icd(b, day))) is not None
    ]
    assert sorted(f.message for f in diagnosis.excludes1_findings(facts, part, day)) == sorted(
        f.message for f in every_pair
    )
    assert len(every_pair) > 0 and len(found) > len(every_pair)


# --- claims with no release in force ------------------------------------------------------------


def _notice(family: str, day: str, release: str, span: str, why: str) -> str:
    return f"No {family} release in force on {day} is loaded; using {release} (effective {span}), {why}."


EARLIEST = "the earliest release loaded"


@pytest.mark.parametrize(
    ("day", "denied", "some_notices"),
    [
        (
            "1900-01-01",
            True,
            [
                _notice("pprrvu", "1900-01-01", "RVU25A", "2025-01-01 to 2025-03-31", EARLIEST),
                _notice("icd10cm", "1900-01-01", "FY2026-APR", "2026-04-01 to 2026-09-30", EARLIEST),
            ],
        ),
        ("2016-05-01", True, [_notice("pprrvu", "2016-05-01", "RVU25A", "2025-01-01 to 2025-03-31", EARLIEST)]),
        (
            "9999-12-31",
            False,
            [_notice("pprrvu", "9999-12-31", "RVU26B", "2026-04-01 to 2026-06-30", "the latest earlier release")],
        ),
        ("2025-06-01", False, [_notice("icd10cm", "2025-06-01", "FY2026-APR", "2026-04-01 to 2026-09-30", EARLIEST)]),
    ],
    ids=["1900", "2016", "9999", "icd-2025"],
)
def test_no_release_in_force(kb, day, denied, some_notices):
    claim = Claim("R", lines("99213", "20702"), D(day), zip_code="10001", diagnoses=("M86.9",))
    [checked] = both(kb, [claim])
    for n in some_notices:
        assert n in checked.notices
    no_release = [(f.id, f.severity, f.lines) for f in checked.findings if f.id == "validity.no_release"]
    assert no_release == ([("validity.no_release", "deny", (1, 2))] if denied else [])
    if denied:  # not priced at a later schedule: no rate, nothing allowed, nothing at risk
        assert (checked.total_allowed, checked.at_risk) == (0.0, 0.0)
        assert [(x.rate, x.allowed, x.denied, x.adjustments) for x in checked.lines] == [(None, None, True, ())] * 2


def test_no_release_only_on_the_lines_of_that_date(kb):
    claim = Claim(
        "M",
        (Line(1, "99213", pointers=(1,), date=D("2016-05-01")), Line(2, "99213", pointers=(1,), date=D("2026-05-01"))),
        D("2026-05-01"),
        zip_code="10001",
        diagnoses=("M86.9",),
    )
    [checked] = both(kb, [claim])
    assert [(f.id, f.lines) for f in checked.findings if f.id.startswith("validity")] == [("validity.no_release", (1,))]
    assert [(x.rate is None, x.allowed is None, x.denied) for x in checked.lines] == [
        (True, True, True),
        (False, False, False),
    ]
    assert checked.at_risk == 0.0 and checked.total_allowed == checked.lines[1].allowed > 0


# --- no crash on codes the PTP file does not list ------------------------------------------------

CRASHERS = [("2070A", "2026-05-01", "validity.unknown_code"), ("27458", "2025-06-01", "validity.not_in_release")]


@pytest.mark.parametrize(("code", "day", "finding"), CRASHERS, ids=["unknown-code", "not-yet-valid"])
def test_a_claim_of_one_line_the_ptp_file_does_not_know(kb, code, day, finding):
    [checked] = both(kb, [Claim("C", lines(code), D(day), zip_code="10001", diagnoses=("M86.9",))])
    assert [(f.id, f.severity, f.lines) for f in checked.findings] == [(finding, "deny", (1,))]


def test_medcode_check_default_engine_on_those_claims(cli_env, tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
        + "".join(f"C{i},{day},10001,M86.9,{code},,1,1\n" for i, (code, day, _) in enumerate(CRASHERS))
    )
    report = tmp_path / "out.json"
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "check", str(claims), "--report", str(report), "--quiet"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(report.read_text())
    assert [[f["id"] for f in c["findings"]] for c in doc["claims"]] == [[f] for _, _, f in CRASHERS]
    icd = _notice("icd10cm", "2025-06-01", "FY2026-APR", "2026-04-01 to 2026-09-30", EARLIEST)
    notices = [[doc["texts"][n] for n in c["notices"]] for c in doc["claims"]]  # numbers into the texts
    assert icd in notices[1] and icd not in notices[0]


# --- the caches stay within their bounds --------------------------------------------------------


def test_facts_caches_are_bounded(kb):
    day = D("2026-05-01")
    facts = Facts(kb, tables=3, answers=100, ptp_codes=50)
    want = Facts(kb).pfs("20702", day)
    codes = [f"{n:05d}" for n in range(10000, 11000)]
    for c in codes:
        facts.pfs(c, day)
        facts.icd(f"Z{c[:2]}.{c[2:]}", day)
        facts.ptp(c, "99213", day)
    assert (len(facts._memo), facts.ptp_edits.cache_info().currsize) == (100, 50)
    for rid in kb.sources:
        facts.table_at("test", rid, lambda r: [r])
    assert len(facts._tables) == 3
    assert facts.pfs("20702", day) == want  # answers made again after they were dropped


def test_facts_keep_at_most_their_default_answers_on_a_file_of_new_codes(kb):
    facts = Facts(kb)
    day = D("2026-05-01")
    for n in range(ANSWERS_KEPT + 20_000):
        facts.icd(f"Q{n % 100:02d}.{n // 100:04d}", day)
    assert len(facts._memo) == ANSWERS_KEPT


def test_pricer_caches_are_bounded(kb):
    from medcode.claims.reprice import Pricer
    from medcode.kb.models import Locality

    pricer = Pricer(Facts(kb), answers=50)
    loc = Locality("13202", "01", "MANHATTAN", "")
    want = Pricer(Facts(kb)).rate("20702", "", loc, D("2026-05-01"), "nonfacility")
    codes = [code for (code,) in kb.query("SELECT DISTINCT hcpcs FROM rvus WHERE status = 'A' LIMIT 300")]
    for code in codes:
        pricer.rate(code, "", loc, D("2026-05-01"), "nonfacility")
    assert (len(pricer._parts), len(pricer._amounts)) == (50, 50)
    assert pricer.rate("20702", "", loc, D("2026-05-01"), "nonfacility") == want == 170.89
