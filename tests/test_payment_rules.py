"""The PFS payment rules (``medcode.rules``) on real codes, in both claim engines and on the code
data: every multiple-procedure indicator, the OPPS imaging cap, contractor-priced statuses and the
rows of the 26, TC and 53 modifiers.

Amounts are for ZIP 10001 (locality 13202-01 Manhattan; 2026 GPCIs work 1.064, PE 1.162, MP 1.586
after January; CF 33.4009), worked out by hand from the RVUs of PPRRVU2026_Apr_nonQPP.txt.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from medcode.claims import Checker, Claim, Line
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import from_claims
from medcode.claims.model import PricedLine
from medcode.kb.models import Gpci
from medcode.lookup import get_code
from medcode.pricing import RVU_SQL, amount, amounts, gpci_of, price
from medcode.rules import MULTIPLE_PROCEDURE_REDUCTION
from medcode.sources import pprrvu
from medcode.sources.files import SourceFile
from medcode.sources.layout import LayoutMismatch

DAY = date(2026, 5, 1)


def _line(n: int, code: str, mods: tuple[str, ...] = (), units: int = 1) -> Line:
    return Line(n, code, modifiers=mods, units=units, pointers=(1,))


def _both(kb, claims: list[Claim]):
    """The per-claim engine's results, after checking that the batch engine gives the same."""
    want = [Checker(kb).check(c) for c in claims]
    got = BatchChecker(kb).check(*from_claims(claims)).to_checked()
    assert got == want
    return want


def _claim(lines: list[Line], pos: str = "11") -> Claim:
    return Claim("C", tuple(lines), date=DAY, zip_code="10001", diagnoses=("R10.9",), place_of_service=pos)


NF, F = "nonfacility", "facility"
FIRST, HALF = "multiple procedure: 100% first, 50% rest", "multiple procedure 50%"

# (indicator, the CMS rule (RVU26B.pdf, field 116), claim lines, place of service, the priced lines)
MULTIPLE_PROCEDURE = [
    (
        "0",
        "No multiple-procedure adjustment: each paid in full (71046 with 93000, indicator 6 alone).",
        [_line(1, "71046"), _line(2, "93000")],
        "11",
        [
            PricedLine(1, "71046", (), 1, NF, 38.02, (), 38.02, False),
            PricedLine(2, "93000", (), 1, NF, 17.58, (), 17.58, False),
        ],
    ),
    (
        "2",
        "Standard: the highest fee at 100%, each other at 50% (20610: 79.27 / 2 = 39.635).",
        [_line(1, "11042"), _line(2, "20610")],
        "11",
        [
            PricedLine(1, "11042", (), 1, NF, 152.72, (FIRST,), 152.72, False),
            PricedLine(2, "20610", (), 1, NF, 79.27, (HALF,), 39.64, False),
        ],
    ),
    (
        "3",
        "Endoscopy: in the family of base 45378, the highest (45385) in full and 45380 less 45378 "
        "(201.07 - 186.74 = 14.33); the family (266.60) then ranks first under the standard rule, 43239 "
        "(family 43235) and 11042 at 50%.",
        [_line(1, "45380"), _line(2, "45385", ("59",)), _line(3, "43239"), _line(4, "11042")],
        "22",
        [
            PricedLine(1, "45380", (), 1, F, 201.07, ("endoscopy family of 45378: less 45378",), 14.33, False),
            PricedLine(
                2,
                "45385",
                ("59",),
                1,
                F,
                252.27,
                ("endoscopy family of 45378: 100% first, the rest less 45378",),
                252.27,
                False,
            ),
            PricedLine(3, "43239", (), 1, F, 139.8, (HALF,), 69.9, False),
            PricedLine(4, "11042", (), 1, F, 63.45, (HALF,), 31.73, False),
        ],
    ),
    (
        "4",
        "Diagnostic imaging: the TC of all but the highest TC (70551-TC 148.54) 50% off (70450-TC 78.15), "
        "the PC of all but the highest PC (74263-26 133.59) 5% off (70551-26 75.21, 70450-26 43.79): "
        "70450 121.94 - 39.075 - 2.1895 = 80.6755, 70551 223.75 - 3.7605.",
        [_line(1, "70450"), _line(2, "70551"), _line(3, "74263", ("26",))],
        "11",
        [
            PricedLine(
                1,
                "70450",
                (),
                1,
                NF,
                121.94,
                (
                    "multiple procedure: technical component 50% off",
                    "multiple procedure: professional component 5% off",
                ),
                80.68,
                False,
            ),
            PricedLine(
                2, "70551", (), 1, NF, 223.75, ("multiple procedure: professional component 5% off",), 219.99, False
            ),
            PricedLine(3, "74263", ("26",), 1, NF, 133.59, (), 133.59, False),
        ],
    ),
    (
        "5",
        "Therapy: 50% of the PE of every unit after the one with the highest PE (97110, PE 0.41 x 1.162 x "
        "33.4009 = 15.913); 97110 x 2 = 64.86 - 7.9566, 97140 30.95 - 7.5684 (PE 0.39).",
        [_line(1, "97110", units=2), _line(2, "97140")],
        "11",
        [
            PricedLine(
                1,
                "97110",
                (),
                2,
                NF,
                32.43,
                ("multiple procedure: practice expense 50% off after the first unit",),
                56.9,
                False,
            ),
            PricedLine(2, "97140", (), 1, NF, 30.95, ("multiple procedure: practice expense 50% off",), 23.38, False),
        ],
    ),
    (
        "6",
        "Diagnostic cardiovascular: the TC of all but the highest TC (93880-TC 176.63) 25% off "
        "(93306-TC 150.63): 225.09 - 37.6575.",
        [_line(1, "93306"), _line(2, "93880", ("TC",))],
        "11",
        [
            PricedLine(
                1, "93306", (), 1, NF, 225.09, ("multiple procedure: technical component 25% off",), 187.43, False
            ),
            PricedLine(2, "93880", ("TC",), 1, NF, 176.63, (), 176.63, False),
        ],
    ),
    (
        "7",
        "Diagnostic ophthalmology: the TC of all but the highest TC (92133-TC 16.83) 20% off "
        "(76514-TC 4.80): 13.41 - 0.96.",
        [_line(1, "92133"), _line(2, "76514")],
        "11",
        [
            PricedLine(1, "92133", (), 1, NF, 35.01, (), 35.01, False),
            PricedLine(
                2, "76514", (), 1, NF, 13.41, ("multiple procedure: technical component 20% off",), 12.45, False
            ),
        ],
    ),
    (
        "9",
        "The concept does not apply: paid in full (96160 twice with 99213-25, indicator 0).",
        [_line(1, "96160", units=2), _line(2, "99213", ("25",))],
        "11",
        [
            PricedLine(1, "96160", (), 2, NF, 3.49, (), 6.98, False),
            PricedLine(2, "99213", ("25",), 1, NF, 107.63, (), 107.63, False),
        ],
    ),
]


def test_every_indicator_value_has_a_case():
    assert sorted(c[0] for c in MULTIPLE_PROCEDURE) == sorted(MULTIPLE_PROCEDURE_REDUCTION)


@pytest.mark.parametrize(
    "indicator,rule,lines,pos,want", MULTIPLE_PROCEDURE, ids=[f"indicator-{c[0]}" for c in MULTIPLE_PROCEDURE]
)
def test_multiple_procedure_indicator(kb, indicator, rule, lines, pos, want):
    checker = Checker(kb)
    assert any(checker.facts.pfs(x.code, DAY, x.modifiers)["mult_proc"] == indicator for x in lines), rule
    [result] = _both(kb, [_claim(lines, pos)])
    assert not [f.id for f in result.findings if f.severity == "deny"]
    assert result.lines == tuple(want), rule
    # the total is the sum of the lines' whole cents
    assert result.total_allowed == float(sum(Decimal(repr(x.allowed)) for x in want if x.allowed is not None))


# --- the OPPS imaging cap -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,pfs,capped",
    [
        ("74263", 964.59, 417.06),
        ("75635", 472.95, 330.61),
        ("70473", 278.22, 261.53),
    ],
    ids=["74263", "75635", "70473"],
)
def test_2026_opps_cap(kb, code, pfs, capped):
    p = price(kb, code, zip_code="10001", day=date(2026, 6, 1))
    assert amount(p.rvu, p.gpci, p.conversion_factor, "nonfacility") == pfs  # the PFS amount, uncapped
    assert (p.nonfacility, p.opps_cap.applied, p.opps_cap.nonfacility) == (capped, True, capped)
    page = get_code(kb, code, day=date(2026, 6, 1), zip_code="10001")
    assert page.price.nonfacility == capped and page.opps_cap["release"] == "RVU26B"
    [result] = _both(
        kb,
        [
            Claim(
                "C",
                (_line(1, code),),
                date=date(2026, 6, 1),
                zip_code="10001",
                diagnoses=("R10.9",),
                place_of_service="11",
            )
        ],
    )
    assert (result.lines[0].rate, result.lines[0].allowed) == (capped, capped)


def test_national_amount_is_capped_too(kb):
    # GPCIs of 1.0: PFS 25.00 RVUs x 33.4009 = 835.02; OPPS (2.22 + 8.59 + 0.09) x 33.4009 = 364.07
    page = get_code(kb, "74263", day=date(2026, 6, 1))
    assert (page.payment.nonfacility, page.payment.facility) == (364.07, None)
    assert (page.previous_year.release, page.previous_year.payment.nonfacility) == ("RVU25D", 350.31)


def test_58_rows_of_2026_are_capped_at_gpci_1(kb):
    rid = kb.resolve("pprrvu", DAY).release.ids[0]
    rows = kb.query(RVU_SQL.replace("hcpcs = ? AND modifier = ? AND ", ""), (rid,))
    one = Gpci(1.0, 1.0, 1.0, False)
    assert sum(1 for r in rows if (cap := amounts(r, one, r[12:15])[2]) is not None and cap.applied) == 58


@pytest.mark.parametrize("release", ["RVU25A", "RVU25D"])
def test_formula_gives_every_2025_oppscap_amount(kb, release):
    # RVU25x.pdf: OPPSCAP holds "the payment amounts after the application of the OPPS based payment
    # caps, except for carrier priced codes": for every status A row, min(PFS, OPPS) by the formula
    [(rv,)] = kb.query("SELECT id FROM releases WHERE family = 'pprrvu' AND release = ?", (release,))
    [(gp, start)] = kb.query(
        "SELECT id, effective_from FROM releases WHERE family = 'gpci' AND release = ?", (release,)
    )
    [(cap,)] = kb.query("SELECT id FROM releases WHERE family = 'oppscap' AND release = ?", (release,))
    day = date.fromisoformat(start)
    gpcis = {
        (m, lo): gpci_of(*g, day)
        for m, lo, *g in kb.query(
            "SELECT mac, locality, pw_gpci, pw_gpci_floor, pe_gpci, mp_gpci FROM gpcis WHERE release_id = ?", (gp,)
        )
    }
    checked, wrong = 0, []
    for hcpcs, mod, mac, loc, fac, nonfac in kb.query(
        "SELECT hcpcs, modifier, mac, locality, facility, nonfacility FROM opps_caps "
        "WHERE release_id = ? AND status = 'A'",
        (cap,),
    ):
        if (mac, loc) not in gpcis:  # the cap file lists localities the GPCI file does not
            continue
        row = list(kb.query(RVU_SQL, (hcpcs, mod, rv))[0])
        row[6] = row[7] = ""  # the file gives both settings, NA or not
        nf, f, _ = amounts(row, gpcis[(mac, loc)], row[12:15])
        checked += 1
        if (nf, f) != (nonfac, fac):
            wrong.append((hcpcs, mod, mac, loc, nf, f, nonfac, fac))
    assert (checked, wrong) == (6322, [])


# --- statuses without a national amount --------------------------------------------------------


@pytest.mark.parametrize("code,status", [("11055", "R"), ("0054T", "C")], ids=["status-R", "status-C"])
def test_contractor_priced(kb, code, status):
    page = get_code(kb, code, day=DAY, zip_code="10001")
    assert page.status.code == status
    assert (page.payment.nonfacility, page.payment.facility, page.payment.note) == (None, None, "contractor priced")
    assert (page.price.nonfacility, page.price.facility) == (None, None)
    assert f"Status {status}: contractor priced (the MAC sets the amount; no national amount)." in page.price.notices
    [result] = _both(kb, [_claim([_line(1, code)])])
    assert result.lines == (
        PricedLine(
            1, code, (), 1, NF, None, (f"contractor priced (status {status}): no national amount",), None, False
        ),
    )
    assert result.total_allowed == 0


@pytest.mark.parametrize(
    "lines,want",
    [
        ([_line(1, "94760")], (PricedLine(1, "94760", (), 1, NF, 4.8, (), 4.8, False),)),
        (
            [_line(1, "94760"), _line(2, "20610")],
            (
                PricedLine(
                    1, "94760", (), 1, NF, 4.8, ("status T: bundled into the other services of the day",), 0.0, False
                ),
                PricedLine(2, "20610", (), 1, NF, 79.27, (), 79.27, False),
            ),
        ),
    ],
    ids=["T-alone-paid", "T-with-another-service-bundled"],
)
def test_status_t_is_paid_only_alone(kb, lines, want):
    # Attachment A: "only paid if there are no other services payable under the physician fee
    # schedule billed on the same date by the same provider"
    [result] = _both(kb, [_claim(lines)])
    assert result.lines == want


# --- rows of the 26, TC and 53 modifiers --------------------------------------------------------


@pytest.mark.parametrize(
    "code,mod,pos,rate",
    [
        ("83020", "26", "11", 19.53),  # own row status A (83020 itself is status X)
        ("45378", "53", "22", 93.63),  # discontinued colonoscopy: work 1.59, PE 0.67 facility, MP 0.21
        ("71046", "26", "11", 11.10),
        ("71046", "TC", "11", 26.92),
    ],
    ids=["83020-26", "45378-53", "71046-26", "71046-TC"],
)
def test_modifier_rows_are_priced_by_their_own_row(kb, code, mod, pos, rate):
    [result] = _both(kb, [_claim([_line(1, code, (mod,))], pos)])
    assert result.lines == (PricedLine(1, code, (mod,), 1, NF if pos == "11" else F, rate, (), rate, False),)


# --- the PPRRVU layout: the OPPS columns are read, drift is an error ---------------------------


def test_opps_columns_drift_is_an_error(data_dir, tmp_path):
    src = next(s for s in pprrvu.discover(data_dir) if s.release == "RVU26B")
    lines = src.path.read_text(encoding="latin-1").splitlines(keepends=True)
    at = next(i for i, x in enumerate(lines) if x.startswith("74263 "))
    row = next(r for r in pprrvu.parse(src) if r[0] == "74263" and r[1] == "")
    assert row[-3:] == (8.59, 8.59, 0.09)  # OPPS PE non-facility, facility, MP (columns 152-171)
    text = lines[at]
    assert text[157] == " "  # column 158, the blank between the OPPS PE columns
    shifted = text[:157] + "7" + text[158:]
    bad = tmp_path / src.path.name
    bad.write_text("".join(lines[:at] + [shifted]), encoding="latin-1")
    sf = SourceFile(src.family, bad, src.release, src.layout, src.effective_from, src.effective_to)
    with pytest.raises(LayoutMismatch) as info:
        list(pprrvu.parse(sf))
    assert (info.value.line, bad.name in str(info.value)) == (at + 1, True)


# --- modifier 50 by bilateral indicator -------------------------------------------------------


@pytest.mark.parametrize(
    "code,indicator,share,note",
    [
        ("15777", "1", Decimal("1.5"), "bilateral 150%"),  # the lower of the charge and 150%
        ("70030", "3", Decimal("2"), "bilateral 200% (each side at 100%)"),  # each side at 100%
    ],
    ids=["bilateral-1", "bilateral-3"],
)
def test_modifier_50_is_paid_by_the_bilateral_indicator(kb, code, indicator, share, note):
    """RVU26B.pdf, bilateral surgery indicator: 1 pays 150% of the fee schedule amount for both
    sides; 3 pays each side at 100%, so one line with 50 is paid 200%."""
    [alone] = _both(kb, [_claim([_line(1, code)])])
    [both] = _both(kb, [_claim([_line(1, code, ("50",))])])
    rate = alone.lines[0].rate
    want = float((Decimal(repr(rate)) * share).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))
    assert both.lines == (PricedLine(1, code, ("50",), 1, NF, rate, (note,), want, False),)
    assert kb.query(
        "SELECT bilateral FROM rvus r JOIN releases s ON s.id = r.release_id WHERE s.release = "
        "'RVU26B' AND r.hcpcs = ? AND r.modifier = ''",
        (code,),
    ) == [(indicator,)]
