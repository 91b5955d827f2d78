"""The rule table (medcode.rules) against CMS's definitions, on real codes of the knowledge base:
every value of every PFS indicator with every modifier it governs, the modifier rows of 26, TC
and 53, the PTP bypass rules of the NCCI policy manual; the code page guide and both claim
engines must say what the checker says."""

from __future__ import annotations

from datetime import date

import pytest

from medcode import get_code, rules, vocab
from medcode.claims import Checker, Claim, Finding, Line
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import from_claims
from medcode.guide import guide

DOS = date(2026, 5, 1)
DENY, WARN = ("deny", "warn")
PCTC, BIL, ASST, CO, TEAM = (
    "modifiers.pctc_mismatch",
    "modifiers.bilateral_not_allowed",
    "modifiers.assistant_not_allowed",
    "modifiers.co_surgeon_not_allowed",
    "modifiers.team_not_allowed",
)
ASST_DOC, CO_DOC, TEAM_DOC = (
    "modifiers.assistant_documentation",
    "modifiers.co_surgeon_documentation",
    "modifiers.team_documentation",
)

# (field, value, what CMS says (RVU26B.pdf, PFS record layout and Attachment A), the modifiers it
# governs with the finding a line gets: None when the modifier is accepted)
INDICATORS = [
    ("pctc", "0", "physician service: modifiers 26 and TC cannot be used", {"26": PCTC, "TC": PCTC}),
    ("pctc", "1", "diagnostic test with both components: modifiers 26 and TC can be used", {"26": None, "TC": None}),
    ("pctc", "2", "professional component only (93010): modifiers 26 and TC cannot be used", {"26": PCTC, "TC": PCTC}),
    ("pctc", "3", "technical component only (93005): modifiers 26 and TC cannot be used", {"26": PCTC, "TC": PCTC}),
    ("pctc", "4", "global test only: modifiers 26 and TC cannot be used", {"26": PCTC, "TC": PCTC}),
    ("pctc", "5", "incident to: modifiers 26 and TC cannot be used", {"26": PCTC, "TC": PCTC}),
    (
        "pctc",
        "6",
        "laboratory physician interpretation: modifier TC cannot be used (26 is the interpretation)",
        {"26": None, "TC": PCTC},
    ),
    (
        "pctc",
        "7",
        "physical therapy service: no component split (no 26 or TC rows in the file)",
        {"26": PCTC, "TC": PCTC},
    ),
    (
        "pctc",
        "8",
        "physician interpretation (85060): no TC billing recognized; the code is the professional part",
        {"26": PCTC, "TC": PCTC},
    ),
    ("pctc", "9", "concept does not apply", {"26": PCTC, "TC": PCTC}),
    ("bilateral", "0", "150% adjustment does not apply: bilateral adjustment inappropriate", {"50": BIL}),
    ("bilateral", "1", "150% adjustment applies with modifier 50", {"50": None}),
    ("bilateral", "2", "RVUs already based on a bilateral procedure: 150% does not apply", {"50": BIL}),
    ("bilateral", "3", "with modifier 50 each side is paid at 100%", {"50": None}),
    ("bilateral", "9", "concept does not apply", {"50": BIL}),
    (
        "assistant",
        "0",
        "restriction applies unless documentation establishes medical necessity",
        dict.fromkeys(("80", "81", "82", "AS"), ASST_DOC),
    ),
    (
        "assistant",
        "1",
        "statutory restriction: assistant at surgery may not be paid",
        dict.fromkeys(("80", "81", "82", "AS"), ASST),
    ),
    (
        "assistant",
        "2",
        "restriction does not apply: assistant at surgery may be paid",
        dict.fromkeys(("80", "81", "82", "AS")),
    ),
    ("assistant", "9", "concept does not apply", dict.fromkeys(("80", "81", "82", "AS"), ASST)),
    ("co_surgeon", "0", "co-surgeons not permitted", {"62": CO}),
    ("co_surgeon", "1", "co-surgeons could be paid with supporting documentation", {"62": CO_DOC}),
    ("co_surgeon", "2", "co-surgeons permitted, no documentation if two specialties", {"62": None}),
    ("co_surgeon", "9", "concept does not apply", {"62": CO}),
    ("team", "0", "team surgeons not permitted", {"66": TEAM}),
    ("team", "1", "team surgeons could be paid with supporting documentation; by report", {"66": TEAM_DOC}),
    ("team", "2", "team surgeons permitted; by report", {"66": None}),
    ("team", "9", "concept does not apply", {"66": TEAM}),
]
CASES = [(field, value, rule, mod, fid) for field, value, rule, mods in INDICATORS for mod, fid in mods.items()]
IDS = [f"{field.replace('_', '-')}-{value}-{mod}" for field, value, _, mod, _ in CASES]
LABEL = {
    "pctc": "PC/TC",
    "bilateral": "bilateral surgery",
    "assistant": "assistant at surgery",
    "co_surgeon": "co-surgeon",
    "team": "team surgery",
}
INDICATOR_IDS = set(rules.INDICATOR_FINDING.values())


def test_the_table_covers_every_value():
    assert {(f, v) for f, v, *_ in INDICATORS} == {
        (f, v) for f, values in rules.INDICATOR_RULES.items() for v in values
    }
    assert {f: tuple(v) for f, v in rules.INDICATOR_RULES.items()} == {
        "pctc": tuple("0123456789"),
        "bilateral": tuple("01239"),
        "assistant": tuple("0129"),
        "co_surgeon": tuple("0129"),
        "team": tuple("0129"),
    }


@pytest.fixture(scope="module")
def checker(kb):
    return Checker(kb)


@pytest.fixture(scope="module")
def rows(kb):
    """{code: {modifier: {field: value, 'status': ...}}} of the fee schedule in force on DOS."""
    rid = kb.resolve("pprrvu", DOS).release.ids[0]
    out: dict[str, dict[str, dict]] = {}
    for code, mod, status, *values in kb.query(
        "SELECT hcpcs, modifier, status, pctc, bilateral, assistant, co_surgeon, team FROM rvus "
        "WHERE release_id = ? AND modifier IN ('', '26', 'TC', '53') ORDER BY hcpcs",
        (rid,),
    ):
        out.setdefault(code, {})[mod] = {"status": status, **dict(zip(LABEL, values))}
    return out


def judged(by_mod: dict, mod: str) -> str | None:
    """The row a line with ``mod`` is judged by: its own 26/TC/53 row, the code's row, or (with
    neither) the code's first modifier row."""
    if mod in by_mod:
        return mod
    if "" in by_mod:
        return ""
    return next((m for m in ("26", "TC", "53") if m in by_mod), None)


def a_code(rows: dict, field: str, value: str, mod: str) -> tuple[str, str]:
    """A real code whose line with ``mod`` is judged by a row with ``field`` = ``value`` (an
    active one where there is one): (code, the modifier of that row)."""
    found = []
    for code, by_mod in rows.items():
        row_mod = judged(by_mod, mod)
        if row_mod is not None and by_mod[row_mod][field] == value:
            found.append((by_mod[row_mod]["status"] != "A", code, row_mod))
    assert found, f"no code with {field} indicator {value} in the fee schedule"
    _, code, row_mod = min(found)
    return code, row_mod


def one_line(code: str, *mods: str) -> Claim:
    return Claim("R", (Line(1, code, mods, 1, (1,)),), date=DOS, zip_code="10001", diagnoses=("M86.9",))


def modifier_findings(result) -> list[Finding]:
    return [f for f in result.findings if f.id in INDICATOR_IDS]


@pytest.mark.parametrize("field,value,rule,mod,fid", CASES, ids=IDS)
def test_indicator_rule(checker, rows, field, value, rule, mod, fid):
    code, row_mod = a_code(rows, field, value, mod)
    got = modifier_findings(checker.check(one_line(code, mod)))
    if fid is None:
        assert got == [], rule
        return
    pfs = checker.facts.pfs(code, DOS, (row_mod,))
    verb = "is paid only with documentation" if fid.endswith("_documentation") else "is not allowed"
    row = f" of its {code}-{row_mod} row" if row_mod else ""
    meaning = vocab.meaning(field, value).rstrip(".")
    assert got == [
        Finding(
            fid,
            DENY if fid.endswith("not_allowed") or fid == PCTC else WARN,
            (1,),
            f"{mod} on {code} {verb} ({LABEL[field]} indicator {value}{row}: {meaning}).",
            rules.INDICATOR_RULES[field][value].fix.format(mod=mod),
            pfs["citation"],
        )
    ], rule


@pytest.mark.parametrize("field,value,rule,mod,fid", CASES, ids=IDS)
def test_guide_denials_are_the_checkers_findings(kb, checker, rows, field, value, rule, mod, fid):
    code, _ = a_code(rows, field, value, mod)
    page = get_code(kb, code, day=DOS)
    said = {d.finding for d in guide(page).denials if mod in d.modifiers}
    found = {f.id for f in modifier_findings(checker.check(one_line(code, mod)))}
    assert said == found == ({fid} if fid else set()), rule


def test_both_engines_agree_on_every_indicator_value(kb, checker, rows):
    claims = [
        one_line(*((code,) + (mod,)))
        for field, value, _, mod, _ in CASES
        for code in [a_code(rows, field, value, mod)[0]]
    ]
    claims = [
        Claim(f"R{i}", c.lines, date=c.date, zip_code=c.zip_code, diagnoses=c.diagnoses) for i, c in enumerate(claims)
    ]
    got = BatchChecker(kb).check(*from_claims(claims)).to_checked()
    assert [r.findings for r in got] == [checker.check(c).findings for c in claims]


# --- modifier rows (26, TC, 53) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "mods,expected",
    [
        # 83020 is status X (lab test, paid under the CLFS); 83020-26 has its own row: status A, PC/TC 6
        ((), {"validity.status_x"}),
        (("26",), set()),
        (("TC",), {"validity.status_x", "modifiers.pctc_mismatch"}),  # no TC row: the code's row, PC/TC 9
    ],
    ids=["83020", "83020-26", "83020-TC"],
)
def test_a_modifier_row_judges_its_line(checker, mods, expected):
    assert {f.id for f in checker.check(one_line("83020", *mods)).findings} == expected


def test_a_code_with_only_a_modifier_row(checker):
    # 86153 is in the fee schedule only as 86153-26 (PC/TC 6)
    plain = checker.check(one_line("86153"))
    assert [(f.id, f.severity, f.message) for f in plain.findings] == [
        (
            "validity.pfs_modifier_only",
            "info",
            "86153 is in the fee schedule only as 86153-26; as billed it is not paid under the PFS.",
        )
    ]
    assert checker.check(one_line("86153", "26")).findings == ()
    assert [f.id for f in checker.check(one_line("86153", "TC")).findings] == [
        "modifiers.pctc_mismatch",
        "validity.pfs_modifier_only",
    ]


# --- PTP bypass (NCCI policy manual for Medicare services, chapter I, section E) ---------------

EM_FIX = (
    "If 99213 was a significant, separately identifiable E/M service, add 25 to 99213 (57 if the visit was "
    "the decision for major surgery); 59 and XE/XP/XS/XU are not used with E/M services. Otherwise remove "
    "99213."
)
SITE_FIX = (
    "If 20610 was a distinct service (another site, session or encounter), add 59 or XE/XP/XS/XU to it, or "
    "anatomic modifiers on both lines that show the different sites; otherwise remove it."
)


@pytest.mark.parametrize(
    "first,second,fid,why,fix",
    [
        # 20610 column 1, 99213 column 2, modifier indicator 1
        (("20610",), ("99213",), "ptp.modifier_required", "", EM_FIX),
        (("20610",), ("99213", "59"), "ptp.modifier_required", "; 59 is not used with an E/M service", EM_FIX),
        (("20610", "XS"), ("99213",), "ptp.modifier_required", "; XS is not used with an E/M service", EM_FIX),
        (("20610",), ("99213", "25"), "ptp.bypassed", "25", None),
        (("20610", "25"), ("99213",), "ptp.modifier_required", "; 25 is for E/M services only", EM_FIX),
        (("20610",), ("99213", "57"), "ptp.bypassed", "57", None),
        # 29881 column 1, 20610 column 2, modifier indicator 1
        (("29881", "RT"), ("20610", "RT"), "ptp.modifier_required", "; RT on both lines shows the same site", SITE_FIX),
        (
            ("29881",),
            ("20610", "RT"),
            "ptp.modifier_required",
            "; RT on one line only does not show different sites",
            SITE_FIX,
        ),
        (("29881", "RT"), ("20610", "LT"), "ptp.bypassed", "LT, RT", None),
        (("29881", "RT"), ("20610", "RT", "59"), "ptp.bypassed", "59", None),
        (("29881",), ("20610", "XS"), "ptp.bypassed", "XS", None),
    ],
    ids=[
        "em-none",
        "em-59",
        "em-xs-on-procedure",
        "em-25",
        "25-on-procedure",
        "em-57",
        "same-side",
        "one-side",
        "other-side",
        "same-side-59",
        "xs",
    ],
)
def test_ptp_bypass(checker, first, second, fid, why, fix):
    c = Claim(
        "P",
        (Line(1, first[0], first[1:], 1, (1,)), Line(2, second[0], second[1:], 1, (1,))),
        date=DOS,
        zip_code="10001",
        diagnoses=("M17.11",),
    )
    found = [f for f in checker.check(c).findings if f.id.startswith("ptp.")]
    assert len(found) == 1 and found[0].id == fid and found[0].lines == (2, 1)
    f = found[0]
    if fid == "ptp.bypassed":
        plural = "s" if "," in why else ""
        assert f.message.endswith(f": modifier{plural} {why} bypass{'' if plural else 'es'} the edit (indicator 1).")
    else:
        assert f.fix == fix
        assert f"{why}). {second[0]} is denied as billed." in f.message


def test_ptp_is_looked_up_per_group_of_lines(kb, checker):
    # 25 lines of 29881 and 25 of 20610 on one day: 625 pairs from one edit lookup, and both engines agree
    lines = tuple(Line(i, "29881" if i <= 25 else "20610", (), 1, (1,)) for i in range(1, 51))
    c = Claim("G", lines, date=DOS, zip_code="10001", diagnoses=("M17.11",))
    r = checker.check(c)
    pairs = [f.lines for f in r.findings if f.id == "ptp.modifier_required"]
    assert sorted(pairs) == [(b, a) for b in range(26, 51) for a in range(1, 26)]
    assert BatchChecker(kb).check(*from_claims([c])).to_checked()[0].findings == r.findings


def test_every_check_has_its_batch_form_beside_it():
    # the batch engine runs each module's ``batch``: a check without one cannot be added to CHECKS
    from medcode.claims import CHECKS

    assert [
        m.__name__ for m in CHECKS if not (callable(getattr(m, "check", None)) and callable(getattr(m, "batch", None)))
    ] == []
