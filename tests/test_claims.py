"""The claim checker on the real knowledge base: one table of cases per check, repricing, readers."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

import jsonschema
import pytest

from medcode.claims import Checker, Claim, ClaimInputError, Line, read_csv, read_json
from medcode.claims import report as reports
from medcode.claims.readers import Fields
from medcode.pricing import price

DOS = date(2026, 5, 1)


@pytest.fixture(scope="module")
def checker(kb):
    return Checker(kb)


def claim(*lines, dx=("M86.9",), day=DOS, pos="11", zip_code="10001"):
    return Claim(
        "T",
        tuple(Line(i, code, mods, units, ptrs) for i, (code, mods, units, ptrs) in enumerate(lines, start=1)),
        date=day,
        place_of_service=pos,
        zip_code=zip_code,
        diagnoses=dx,
    )


def L(code, *mods, units=1, ptrs=(1,)):  # noqa: N802 - reads like a claim line
    return code, tuple(mods), units, ptrs


def ids(result):
    return {f.id for f in result.findings}


CASES = [
    # (name, claim, findings expected, findings not expected)
    ("20702 alone", claim(L("20702")), {"addon.no_primary"}, set()),
    ("20702 with 20680", claim(L("20680"), L("20702")), set(), {"addon.no_primary"}),
    ("20702 with 51", claim(L("20680"), L("20702", "51")), {"modifiers.51_on_addon"}, set()),
    ("20702 x2", claim(L("20680"), L("20702", units=2)), {"mue.exceeded"}, set()),
    ("20700 and 20702", claim(L("20680"), L("20700"), L("20702")), {"siblings.conflict"}, set()),
    ("25 on a procedure", claim(L("20610", "25")), {"modifiers.25_not_em"}, set()),
    ("25 on the E/M", claim(L("99213", "25"), L("20610")), {"ptp.bypassed"}, {"modifiers.25_not_em"}),
    ("E/M with a procedure, no modifier", claim(L("99213"), L("20610")), {"ptp.modifier_required"}, set()),
    ("50 on a code with bilateral 0", claim(L("99213", "50")), {"modifiers.bilateral_not_allowed"}, set()),
    ("26 on a code without PC/TC", claim(L("27447", "26")), {"modifiers.pctc_mismatch"}, set()),
    ("unknown modifier", claim(L("27447", "9Z")), {"modifiers.unknown"}, set()),
    ("header diagnosis", claim(L("27447"), dx=("S72",)), {"validity.header_diagnosis"}, set()),
    ("unknown diagnosis", claim(L("27447"), dx=("Z99.999",)), {"validity.unknown_diagnosis"}, set()),
    ("pointer past the diagnoses", claim(L("27447", ptrs=(2,))), {"diagnosis.bad_pointer"}, set()),
    ("no pointer", claim(L("27447", ptrs=())), {"diagnosis.no_pointer"}, set()),
    ("Excludes1 pair", claim(L("99213"), dx=("E11.9", "E10.9")), {"diagnosis.excludes1"}, set()),
    ("unknown code", claim(L("99999")), {"validity.unknown_code"}, set()),
    ("not a code", claim(L("2#07")), {"validity.malformed_code"}, set()),
    ("bundled status", claim(L("99211"), L("36415")), set(), {"validity.unknown_code"}),
    (
        "clean claim",
        claim(L("27447"), dx=("M17.11",), pos="22"),
        set(),
        {"addon.no_primary", "mue.exceeded", "validity.unknown_code"},
    ),
]


@pytest.mark.parametrize("name,c,present,absent", CASES, ids=[c[0] for c in CASES])
def test_checks(checker, name, c, present, absent):
    found = ids(checker.check(c))
    assert present <= found, (name, found)
    assert not absent & found, (name, found)


def test_every_finding_is_complete(checker):
    result = checker.check(claim(L("20702", "51", units=2), L("20700"), L("99213", "50")))
    for f in result.findings:
        assert f.id.split(".")[0] in {"validity", "addon", "ptp", "mue", "modifiers", "siblings", "diagnosis"}
        assert f.severity in {"deny", "warn", "info"} and f.message and f.fix
    addon = next(f for f in result.findings if f.id == "addon.no_primary")
    assert addon.lines == (1,) and addon.citation.family == "aoc" and addon.citation.row == "20702"


def test_code_not_yet_in_force_on_the_date(kb, checker):
    r26 = kb.resolve("pprrvu", None).release.ids[0]
    old = [r.ids[0] for r in kb.releases["pprrvu"] if r.effective_from.year == 2025]
    (new,) = kb.query(
        f"SELECT hcpcs FROM rvus WHERE release_id = ? AND modifier = '' AND status = 'A' AND hcpcs "
        f"NOT IN (SELECT hcpcs FROM rvus WHERE release_id IN ({','.join('?' * len(old))})) LIMIT 1",
        (r26, *old),
    )[0]
    assert "validity.not_in_release" in ids(checker.check(claim(L(new), day=date(2025, 3, 1))))
    assert "validity.not_in_release" not in ids(checker.check(claim(L(new), day=DOS)))


def test_ptp_denies_the_column_2_line(checker):
    r = checker.check(claim(L("99213"), L("20610")))
    f = next(f for f in r.findings if f.id == "ptp.modifier_required")
    denied = {x.code for x in r.lines if x.denied}
    assert denied == {r.lines[f.lines[0] - 1].code} and len(denied) == 1
    assert not any(
        f.id.startswith("ptp.") and f.severity == "deny"
        for f in checker.check(claim(L("99213", "25"), L("20610"))).findings
    )


def cents(x):
    return (x if isinstance(x, Decimal) else Decimal(repr(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_multiple_procedure_reduction_to_the_cent(kb, checker):
    """27130 and 25607 in an outpatient hospital (facility rates) in Manhattan: the higher one at
    100%, the other at 50%, each priced on its own by ``price``."""
    r = checker.check(claim(L("27130"), L("25607"), dx=("M16.11",), pos="22"))
    assert not [f for f in r.findings if f.severity == "deny"]
    a = price(kb, "27130", zip_code="10001", day=DOS).facility
    b = price(kb, "25607", zip_code="10001", day=DOS).facility
    hi, lo = max(a, b), min(a, b)
    allowed = {x.code: x.allowed for x in r.lines}
    assert sorted(allowed.values()) == sorted([float(cents(hi)), float(cents(Decimal(repr(lo)) / 2))])
    assert r.total_allowed == float(cents(Decimal(repr(hi)) + Decimal(repr(lo)) / 2))
    assert {x.setting for x in r.lines} == {"facility"}


def test_bilateral_assistant_and_co_surgeon(kb, checker):
    base = price(kb, "64721", zip_code="10001", day=DOS).facility
    r = checker.check(claim(L("64721", "50"), dx=("G56.03",), pos="22"))
    assert r.lines[0].allowed == float(cents(Decimal(repr(base)) * Decimal("1.5")))
    knee = price(kb, "27447", zip_code="10001", day=DOS).facility
    assert checker.check(claim(L("27447", "80"), dx=("M17.11",), pos="22")).lines[0].allowed == float(
        cents(Decimal(repr(knee)) * Decimal("0.16"))
    )
    assert checker.check(claim(L("27447", "62"), dx=("M17.11",), pos="22")).lines[0].allowed == float(
        cents(Decimal(repr(knee)) * Decimal("0.625"))
    )


def test_json_reader_reports_bad_values_and_keeps_the_line():
    [c] = read_json(
        json.dumps(
            {
                "id": "X",
                "date": "2026-02-30",
                "zip": "10001",
                "lines": [
                    {"code": "20702", "units": -1},
                    {"code": "20680", "units": 0},
                    {"code": ""},
                    {"code": "99213", "modifiers": ["25", "TOOLONG"]},
                ],
            }
        )
    )
    assert len(c.lines) == 4
    fields = [(p.field, p.line) for p in c.problems]
    assert ("units", 1) in fields and ("units", 2) in fields and ("code", 3) in fields
    assert ("modifiers", 4) in fields and ("date", None) in fields
    assert any("claims" not in p.position and "lines[0].units" in p.position for p in c.problems)


@pytest.mark.parametrize(
    "text,where",
    [
        ("", "the file is empty"),
        ("{", "not JSON"),
        ('{"lines": []}', "lines"),
        ("[1]", "object"),
    ],
)
def test_json_reader_errors(text, where):
    with pytest.raises(ClaimInputError, match=where):
        read_json(text, "t.json")


def test_csv_reader():
    text = (
        "claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
        "A,2026-05-01,10001,M17.11;E11.9,99213,25,1,1\nA,2026-05-01,10001,,20610,,1,1 2\n"
        "B,2026-05-01,10001,M86.9,20702,,x,1\n"
    )
    a, b = read_csv(text, "t.csv")
    assert (a.id, [x.code for x in a.lines], a.diagnoses, a.lines[1].pointers) == (
        "A",
        ["99213", "20610"],
        ("M17.11", "E11.9"),
        (1, 2),
    )
    assert b.problems[0].position == "t.csv:4:7" and b.problems[0].field == "units"
    with pytest.raises(ClaimInputError, match="t.csv:1: missing column"):
        read_csv("claim_id,units\n1,2\n", "t.csv")
    with pytest.raises(ClaimInputError, match="empty"):
        read_csv("", "t.csv")
    with pytest.raises(ClaimInputError, match="t.csv:2: 3 fields"):
        read_csv("claim_id,code\n1,2,3\n", "t.csv")


def test_every_problem_becomes_a_finding(checker):
    [c] = read_json(
        '{"date": "2026-05-01", "zip": "10001", "diagnoses": ["M86.9"], '
        '"lines": [{"code": "20680", "pointers": [1]}, {"code": "20702", "units": -2, "pointers": [1]}]}'
    )
    r = checker.check(c)
    bad = [f for f in r.findings if f.id == "validity.bad_input"]
    assert len(bad) == 1 and bad[0].lines == (2,) and "units" in bad[0].message
    assert [x.line for x in r.lines] == [1, 2]  # the line stays on the claim


def test_report_contract_and_schema(checker):
    example = {
        "claims": [
            {
                "id": "A1",
                "date": "2026-05-01",
                "place_of_service": "11",
                "zip": "10001",
                "diagnoses": ["M86.9"],
                "lines": [{"code": "20702", "units": 1, "pointers": [1]}],
            }
        ]
    }
    schema = json.loads(resources.files("medcode.claims").joinpath("claim.schema.json").read_text())
    jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"claims": [{"lines": [{"code": "20702", "units": -1}]}]}, schema)
    results = [checker.check(c) for c in read_json(json.dumps(example))]
    doc = json.loads(reports.to_json(results))
    c = doc["claims"][0]
    assert {"id", "findings", "lines", "total_allowed"} <= set(c)
    assert {"id", "severity", "lines", "message", "fix", "citation"} <= set(c["findings"][0])
    assert {"line", "code", "modifiers", "units", "allowed"} <= set(c["lines"][0])
    assert doc["summary"]["findings"] == {"addon.no_primary": 1}
    assert reports.to_csv(results).splitlines()[1].startswith("A1,addon.no_primary,deny,1,")
    assert "addon.no_primary" in reports.to_html(results)


# --- X12 837P and FHIR ------------------------------------------------------------------------

HAND = __import__("pathlib").Path(__file__).parent / "data"
SAME_AS_837 = {
    "claims": [
        {
            "id": "CLAIM-A",
            "date": "2026-05-01",
            "place_of_service": "11",
            "zip": "10001",
            "diagnoses": ["M86.90"],
            "lines": [{"code": "20702", "pointers": [1]}],
        },
        {
            "id": "CLAIM-B",
            "date": "2026-05-01",
            "place_of_service": "22",
            "zip": "10001",
            "diagnoses": ["M86.90", "E11.9"],
            "lines": [
                {"code": "20680", "pointers": [1]},
                {"code": "20702", "modifiers": ["51"], "units": 2, "pointers": [1, 2]},
            ],
        },
    ]
}


def summary_of(result):
    return [(f.id, f.severity, f.lines) for f in result.findings], [(x.code, x.allowed) for x in result.lines]


def test_837p_reads_like_the_same_claims_in_json(checker):
    from medcode.claims.x12 import read_837

    a, b = read_837((HAND / "claims_hand_made.837").read_text(), "t.837")
    assert (a.id, a.place_of_service, a.zip_code, a.provider, a.diagnoses) == (
        "CLAIM-A",
        "11",
        "10001",
        "1111111112",
        ("M8690",),
    )
    assert (b.zip_code, [x.code for x in b.lines], b.lines[1].modifiers, b.lines[1].units, b.lines[1].pointers) == (
        "10001",
        ["20680", "20702"],
        ("51",),
        2,
        (1, 2),
    )
    same = read_json(json.dumps(SAME_AS_837))
    for x, y in zip((a, b), same):
        assert summary_of(checker.check(x)) == summary_of(checker.check(y))
    assert {"addon.no_primary"} <= ids(checker.check(a))
    assert {"modifiers.51_on_addon", "mue.exceeded"} <= ids(checker.check(b))


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda t: "", "empty"),
        (lambda t: t.replace("~", "|", 1), "terminator|GS"),  # ISA says "|", the segments end in "~"
        (lambda t: t.replace("CLM*CLAIM-A*250.00***11:B:1*Y*A*Y*Y~\n", ""), "segment 16 \\(HI\\).*missing its CLM"),
        (lambda t: t.replace("ST*837", "ST*835"), "not an 837"),
        (lambda t: "ISA*short~", "106-character ISA"),
    ],
)
def test_837p_errors_name_the_segment(change, message):
    from medcode.claims.x12 import read_837

    with pytest.raises(ClaimInputError, match=message):
        read_837(change((HAND / "claims_hand_made.837").read_text()), "t.837")


def test_837p_bad_values_become_findings(checker):
    from medcode.claims.x12 import read_837

    text = (
        (HAND / "claims_hand_made.837")
        .read_text()
        .replace("DTP*472*D8*20260501~\nCLM*CLAIM-B", "DTP*472*D8*20260231~\nCLM*CLAIM-B")
    )
    text = text.replace("SV1*HC:20680*600.00*UN*1***1", "SV1*HC:20680*600.00*UN*-1***1")
    a, b = read_837(text, "t.837")
    assert any("segment 21 (DTP) element 3" in p.position for p in a.problems)
    assert [(p.field, p.line) for p in b.problems] == [("units", 1)]
    assert "validity.bad_input" in ids(checker.check(b)) and len(b.lines) == 2


def test_fhir_claim_bundle(checker):
    from medcode.claims.fhir import read_fhir

    [c] = read_fhir((HAND / "claim_hand_made.fhir.json").read_text(), "t.fhir.json")
    assert (c.id, c.date, c.place_of_service, c.zip_code, c.diagnoses) == (
        "FHIR-1",
        DOS,
        "22",
        "10001",
        ("M86.9", "E11.9"),
    )
    assert [(x.code, x.modifiers, x.units, x.pointers) for x in c.lines] == [
        ("20680", (), 1, (1,)),
        ("20702", ("51",), 2, (1, 2)),
    ]
    assert {"modifiers.51_on_addon", "mue.exceeded"} <= ids(checker.check(c))
    with pytest.raises(ClaimInputError, match="expected a Claim resource"):
        read_fhir('{"resourceType": "Patient"}', "t.json")


@pytest.mark.parametrize(
    "code,mods,units,pointers,charge",
    [
        ("20702", [], "1", ["1"], "100.50"),
        ("99213", ["25", "59"], "12", ["1", "2"], ""),
        ("20702", ["lt"], "1", [], "1"),
        ("20702", ["5"], "1", [], "1"),
        ("20702", ["A", "B", "C", "D", "E"], "1", [], ""),
        ("20702 ", [], "1", [], ""),
        ("20702", [], "0", [], ""),
        ("20702", [], "1.5", [], ""),
        ("20702", [], "x", [], ""),
        ("20702", [], "1", ["a"], ""),
        ("20702", [], "1", [], "-3"),
        ("20702", [], "1", [], "ten"),
        ("", [], "1", [], ""),
        ("20702", [], "01", ["01"], "1e2"),
    ],
)
def test_plain_line_is_the_fields_reading_when_there_is_nothing_to_report(code, mods, units, pointers, charge):
    # the X12 reader takes this shortcut for plain lines: it must read exactly as Fields does
    f = Fields()
    full = Line(
        line=3,
        code=f.code(code, "w", 3),
        modifiers=f.modifiers(mods, "w", 3),
        units=f.units(units, "w", 3),
        pointers=f.pointers(pointers, "w", 3),
        charge=f.charge(charge, "w", 3),
        date=date(2026, 5, 1),
    )
    plain = Fields().plain_line(3, code, mods, units, pointers, charge, date(2026, 5, 1))
    # None is always allowed (Fields then reads the line); anything else is Fields' reading
    if f.problems:
        assert plain is None
    if plain is not None:
        assert plain == full
    if (code, mods, units, pointers, charge) in (
        ("20702", [], "1", ["1"], "100.50"),
        ("99213", ["25", "59"], "12", ["1", "2"], ""),
    ):
        assert plain is not None  # the usual lines do take the shortcut
