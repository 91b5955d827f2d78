"""The scrubber checks of issue 12 section 5: NPI check digits, place of service on the date,
duplicate lines, modifiers that contradict each other on one line, diagnoses no line points to.
Each case runs through both engines (per claim and batch), which must agree, and the findings of
the check are asserted whole."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from medcode.claims import Checker, Claim, Finding, Line, read_csv, read_json
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import csv_frames, from_claims
from medcode.claims.checks import npi
from medcode.claims.fhir import read_fhir

DAY = date(2026, 5, 1)
DX = ("M17.11",)


def both(kb, claim: Claim, prefixes: tuple[str, ...]) -> list[Finding]:
    """The claim's findings whose id starts with one of ``prefixes``, once both engines agree on
    the whole checked claim."""
    want = Checker(kb).check(claim)
    got = BatchChecker(kb).check(*from_claims([claim])).to_checked()
    assert got == [want]
    return [f for f in want.findings if f.id.startswith(prefixes)]


def claim(*lines: Line, **fields: object) -> Claim:
    return Claim("T", lines, **{"date": DAY, "diagnoses": DX, "zip_code": "10001", **fields})  # type: ignore[arg-type]


def line(n: int, code: str, *mods: str, day: date | None = None, pointers: tuple[int, ...] = (1,)) -> Line:
    return Line(n, code, mods, pointers=pointers, date=day)


# --- NPI --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, problem",
    [
        ("1234567893", None),  # the example NPI of the CMS NPI standard
        ("1245319599", None),
        ("1003000126", None),
        ("1234567890", "check_digit"),
        ("1245319590", "check_digit"),
        ("2234567893", "check_digit"),  # one digit changed
        ("1234567839", "check_digit"),  # two digits swapped
        ("123456789", "malformed"),
        ("12345678931", "malformed"),
        ("123456789X", "malformed"),
        ("١٢٣٤٥٦٧٨٩٣", "malformed"),  # Arabic-Indic digits are not ASCII digits
    ],
    ids=lambda v: repr(v),
)
def test_npi_problem(value: str, problem: str | None) -> None:
    assert npi.problem(value) == problem
    frame = pl.DataFrame({"n": [value]}).select(npi.problem_expr(pl.col("n")))
    assert frame.item() == problem


def test_npi_check_digit_is_luhn_with_the_80840_prefix() -> None:
    # 80840123456789: doubling every second digit from the right gives 67; 67 + 3 = 70
    assert [npi.check_digit(nine) for nine in ("123456789", "124531959", "100300012")] == [3, 9, 6]


BAD_DIGIT = Finding(
    "npi.check_digit",
    "deny",
    (),
    "The {role} NPI 1234567890 fails its check digit (Luhn with the 80840 prefix, CMS NPI standard): "
    "it is mistyped or not an NPI.",
    "Correct the {role} NPI; look the provider up in NPPES.",
)


@pytest.mark.parametrize(
    "fields, want",
    [
        ({}, []),
        ({"billing_npi": "1234567893", "rendering_npi": "1245319599", "referring_npi": "1003000126"}, []),
        ({"billing_npi": "1234567890"}, [("billing", BAD_DIGIT)]),
        ({"rendering_npi": "1234567890"}, [("rendering", BAD_DIGIT)]),
        ({"referring_npi": "1234567890"}, [("referring", BAD_DIGIT)]),
        (
            {"billing_npi": "1234567890", "referring_npi": "12-345"},
            [
                ("billing", BAD_DIGIT),
                (
                    "referring",
                    Finding(
                        "npi.malformed",
                        "deny",
                        (),
                        "The referring NPI 12-345 is not ten digits.",
                        "Give the referring provider's ten-digit NPI as listed in NPPES.",
                    ),
                ),
            ],
        ),
    ],
    ids=["none", "all-good", "billing", "rendering", "referring", "two-bad"],
)
def test_npi_findings(kb, fields: dict, want: list) -> None:
    expected = [
        Finding(f.id, f.severity, f.lines, f.message.replace("{role}", role), f.fix.replace("{role}", role))
        for role, f in want
    ]
    got = both(kb, claim(line(1, "99213"), **fields), ("npi.",))
    assert sorted(got, key=lambda f: f.message) == sorted(expected, key=lambda f: f.message)


def _fhir(**extra: object) -> str:
    return json.dumps(
        {
            "resourceType": "Claim",
            "id": "F1",
            "billablePeriod": {"start": "2026-05-01"},
            "provider": {"identifier": {"value": "1234567893"}},
            "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"code": "M17.11"}]}}],
            "item": [{"productOrService": {"coding": [{"code": "99213"}]}, "diagnosisSequence": [1]}],
            **extra,
        }
    )


def _member(role: str, value: str) -> dict:
    return {"sequence": 1, "role": {"coding": [{"code": role}]}, "provider": {"identifier": {"value": value}}}


CSV_HEAD = "claim_id,date,code,billing_npi,rendering_npi,referring_npi\n"


@pytest.mark.parametrize(
    "fmt, text, want",
    [
        (
            "json",
            json.dumps(
                {
                    "id": "J",
                    "date": "2026-05-01",
                    "billing_npi": "1234567893",
                    "rendering_npi": 1245319599,
                    "lines": [{"code": "99213"}],
                }
            ),
            ("1234567893", "1245319599", None),
        ),
        ("json", json.dumps({"id": "J", "lines": [{"code": "99213"}]}), (None, None, None)),
        (
            "csv",
            CSV_HEAD + "C,2026-05-01,99213,1234567893,,1003000126\nC,2026-05-01,20610,1234567893,,1003000126\n",
            ("1234567893", None, "1003000126"),
        ),
        ("fhir", _fhir(), ("1234567893", None, None)),
        (
            "fhir",
            _fhir(
                careTeam=[
                    _member("assist", "1111111111"),
                    _member("primary", "1245319599"),
                    _member("referring", "1003000126"),
                ]
            ),
            ("1234567893", "1245319599", "1003000126"),
        ),
        (
            "fhir",
            _fhir(
                careTeam=[_member("rendering", "1245319599")],
                referral={"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1003000126"}},
            ),
            ("1234567893", "1245319599", "1003000126"),
        ),
        ("fhir", _fhir(referral={"identifier": {"system": "urn:other", "value": "R-77"}}), ("1234567893", None, None)),
    ],
    ids=["json", "json-none", "csv", "fhir-provider", "fhir-care-team", "fhir-npi-referral", "fhir-other-referral"],
)
def test_npis_are_read(fmt: str, text: str, want: tuple) -> None:
    if fmt == "json":
        claims = read_json(text)
    elif fmt == "csv":
        claims = read_csv(text)
    else:
        claims = read_fhir(text)
    assert [(c.billing_npi, c.rendering_npi, c.referring_npi) for c in claims] == [want]
    assert all(not c.problems for c in claims)


def test_csv_npis_in_the_batch_reader(kb, tmp_path) -> None:
    path = tmp_path / "npi.csv"
    path.write_text(CSV_HEAD + "C,2026-05-01,99213,1234567890,12345,1003000126\nD,2026-05-01,99213,,,\n")
    claims, lines, slow = csv_frames(str(path))
    assert not slow
    assert claims.select("claim_id", "billing_npi", "rendering_npi", "referring_npi").rows() == [
        ("C", "1234567890", "12345", "1003000126"),
        ("D", None, None, None),
    ]
    got = BatchChecker(kb).check(claims, lines, slow).to_checked()
    want = [Checker(kb).check(c) for c in read_csv(path.read_text())]
    assert got == want
    assert [sorted(f.id for f in r.findings if f.id.startswith("npi.")) for r in want] == [
        ["npi.check_digit", "npi.malformed"],
        [],
    ]


# --- place of service -------------------------------------------------------------------------------

UNKNOWN_FIX = (
    "Give the two-digit CMS place-of-service code of where the service was given (11 office, "
    "22 on-campus outpatient hospital, 21 inpatient hospital ...)."
)
EARLY_FIX = "Use the place-of-service code in force on the date of service, or correct the date."


def _unknown(pos: str) -> Finding:
    return Finding(
        "place_of_service.unknown",
        "deny",
        (),
        f"Place of service {pos} is not a code of the CMS place-of-service code set.",
        UNKNOWN_FIX,
    )


def _early(pos: str, name: str, first: str, lines: tuple[int, ...]) -> Finding:
    return Finding(
        "place_of_service.not_in_force",
        "deny",
        lines,
        f"Place of service {pos} ({name}) is valid for dates of service from {first} on; these lines are "
        "dated before it.",
        EARLY_FIX,
    )


@pytest.mark.parametrize(
    "pos, days, want",
    [
        (None, [DAY], []),
        ("11", [DAY], []),
        ("1", [DAY], []),  # read as 01, as repricing reads it
        ("27", [DAY], []),
        ("66", [date(2024, 8, 1)], []),  # its first day
        ("98", [DAY], [_unknown("98")]),  # unassigned
        ("28", [DAY], [_unknown("28")]),
        ("AB", [DAY], [_unknown("AB")]),
        ("011", [DAY], [_unknown("011")]),
        (
            "27",
            [date(2023, 9, 30), DAY, date(2023, 1, 5)],
            [_early("27", "Outreach site/street", "2023-10-01", (1, 3))],
        ),
        (
            "66",
            [date(2024, 7, 31)],
            [_early("66", "Programs of All-Inclusive Care for the Elderly (PACE) center", "2024-08-01", (1,))],
        ),
        ("10", [date(2021, 12, 31)], [_early("10", "Telehealth provided in patient's home", "2022-01-01", (1,))]),
        ("58", [date(2019, 6, 1)], [_early("58", "Non-residential opioid treatment facility", "2020-01-01", (1,))]),
    ],
    ids=[
        "none",
        "office",
        "one-digit",
        "outreach",
        "pace-first-day",
        "unassigned-98",
        "unassigned-28",
        "letters",
        "three-digits",
        "outreach-before-2023-10",
        "pace-before",
        "telehealth-home-before",
        "opioid-before",
    ],
)
def test_place_of_service(kb, pos: str | None, days: list[date], want: list[Finding]) -> None:
    lines = tuple(line(n, code, day=d) for n, (code, d) in enumerate(zip(("99213", "20610", "99214"), days), start=1))
    assert both(kb, claim(*lines, place_of_service=pos), ("place_of_service.",)) == want


# --- duplicates -------------------------------------------------------------------------------------


def _dup(billed: str, lines: tuple[int, ...]) -> Finding:
    return Finding(
        "duplicates.line",
        "warn",
        lines,
        f"{billed} is billed on more than one line of the same date with the same modifiers.",
        "If it is entered twice, remove the copy; if the service was given more than once, bill the "
        "units on one line or mark the repeat (76 or 77 for a repeated procedure, 91 for a repeated "
        "laboratory test) as the code allows.",
    )


OTHER = date(2026, 5, 2)


@pytest.mark.parametrize(
    "lines, want",
    [
        ([line(1, "20610"), line(2, "99213")], []),
        ([line(1, "20610"), line(2, "20610")], [_dup("20610", (1, 2))]),
        (
            [line(1, "20610", "RT", "59"), line(2, "20610", "59", "RT"), line(3, "20610", "RT")],
            [_dup("20610-59-RT", (1, 2))],
        ),
        ([line(1, "20610"), line(2, "20610", day=OTHER)], []),
        (
            [line(1, "20610", day=OTHER), line(2, "99213"), line(3, "20610", day=OTHER), line(4, "20610")],
            [_dup("20610", (1, 3))],
        ),
        ([line(1, "20610", "LT"), line(2, "20610", "RT")], []),
        (
            [line(1, "97110"), line(2, "97110"), line(3, "97110"), line(4, "97140"), line(5, "97140")],
            [_dup("97110", (1, 2, 3)), _dup("97140", (4, 5))],
        ),
    ],
    ids=["distinct", "twice", "modifiers-in-any-order", "two-dates", "line-dates", "sides", "two-groups"],
)
def test_duplicate_lines(kb, lines: list[Line], want: list[Finding]) -> None:
    assert both(kb, claim(*lines), ("duplicates.",)) == want


# --- modifiers that contradict each other -----------------------------------------------------------

X_WHY = (
    "XE, XP, XS and XU are the specific forms of 59; a line carries one of them or 59, never both "
    "(NCCI policy manual, chapter I, section E)"
)
X_FIX = "Keep the X modifier that describes why the service was distinct (or 59 alone) and remove the other."


def _pair(fid: str, n: int, text: str, fix: str) -> Finding:
    return Finding(fid, "deny", (n,), text, fix)


@pytest.mark.parametrize(
    "mods, want",
    [
        (("59",), []),
        (("XS",), []),
        (("59", "RT"), []),
        (("59", "XS"), [_pair("modifiers.59_with_x", 1, f"20610 carries 59 and XS on one line: {X_WHY}.", X_FIX)]),
        (("XU", "59"), [_pair("modifiers.59_with_x", 1, f"20610 carries 59 and XU on one line: {X_WHY}.", X_FIX)]),
        (
            ("59", "XE", "XP"),
            [_pair("modifiers.59_with_x", 1, f"20610 carries 59 and XE, XP on one line: {X_WHY}.", X_FIX)],
        ),
        (("XE", "XS"), []),  # two X modifiers: not this check's rule
        (
            ("54", "55"),
            [
                _pair(
                    "modifiers.54_with_55",
                    1,
                    "20610 carries 54 and 55 on one line: 54 bills the surgical care only and 55 the "
                    "postoperative management only; both parts by one provider are the global surgical "
                    "package.",
                    "Bill the procedure without 54 and 55 when one provider gave both parts; otherwise keep "
                    "the modifier of the part this provider gave.",
                )
            ],
        ),
        (
            ("26", "TC"),
            [
                _pair(
                    "modifiers.26_with_tc",
                    1,
                    "20610 carries 26 and TC on one line: 26 bills the professional component and TC the "
                    "technical component; both are the global service.",
                    "Bill the code without 26 and TC for the whole service, or keep the modifier of the "
                    "component billed.",
                )
            ],
        ),
    ],
    ids=["59", "XS", "59-RT", "59-XS", "XU-59", "59-XE-XP", "XE-XS", "54-55", "26-TC"],
)
def test_modifier_pairs(kb, mods: tuple[str, ...], want: list[Finding]) -> None:
    fids = ("modifiers.59_with_x", "modifiers.54_with_55", "modifiers.26_with_tc")
    assert both(kb, claim(line(1, "20610", *mods)), fids) == want


# --- diagnoses no line points to --------------------------------------------------------------------


def _unpointed(i: int, dx: str) -> Finding:
    return Finding(
        "diagnosis.unpointed",
        "info",
        (),
        f"Diagnosis {i} ({dx}) is listed on the claim, but no line points to it.",
        "Point the lines it supports to it, or leave it off the claim if it supports none.",
    )


@pytest.mark.parametrize(
    "pointers, diagnoses, want",
    [
        ([(1,), (2,)], ("M17.11", "E11.9"), []),
        ([(1,), (1,)], ("M17.11", "E11.9"), [_unpointed(2, "E11.9")]),
        ([(2, 3)], ("M17.11", "E11.9", "I10", "Z79.4"), [_unpointed(1, "M17.11"), _unpointed(4, "Z79.4")]),
        ([(1, 9)], ("M17.11", "E11.9"), [_unpointed(2, "E11.9")]),  # a pointer past the list points to nothing
        ([()], ("M17.11",), [_unpointed(1, "M17.11")]),
        ([(1,)], ("M17.11", "M17.11"), [_unpointed(2, "M17.11")]),  # positions, not codes
    ],
    ids=["all-pointed", "second", "first-and-last", "past-the-list", "no-pointers", "same-code-twice"],
)
def test_unpointed_diagnoses(
    kb, pointers: list[tuple[int, ...]], diagnoses: tuple[str, ...], want: list[Finding]
) -> None:
    lines = [line(n, code, pointers=p) for n, (code, p) in enumerate(zip(("99213", "20610"), pointers), start=1)]
    assert both(kb, claim(*lines, diagnoses=diagnoses), ("diagnosis.unpointed",)) == want
