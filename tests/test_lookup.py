"""Code lookup on the real 2025 and 2026 data."""

from __future__ import annotations

from datetime import date

import pytest

from medcode.codes import MalformedCode, UnknownCode
from medcode.kb.models import Rvu
from medcode.kb.schema import PRESENCE
from medcode.lookup import PTP_PAGE, get_code, ptp_pairs


def test_20702_on_the_2026_data(kb):
    c = get_code(kb, "20702")
    assert (c.code, c.system, c.release, c.status.code) == ("20702", "CPT", "RVU26B", "A")
    assert c.rvu == Rvu(2.44, 1.5, 0.75, 0.49, 4.43, 3.68, False, False)
    assert (c.global_period.code, c.conversion_factor) == ("ZZZ", 33.4009)
    assert (c.payment.nonfacility, c.payment.facility) == (147.97, 122.92)
    assert (c.addon.type, len(c.addon.primary_codes)) == ("1", 39)
    assert "20680" in c.addon.primary_codes
    assert (c.mue.units, c.mue.mai, c.mue.rationale) == (1, "3", "Code Descriptor / CPT Instruction")
    assert (c.previous_year.release, c.previous_year.payment.nonfacility) == ("RVU25D", 138.44)
    assert {s.family for s in c.sources} >= {"pprrvu", "aoc", "mue_practitioner", "ptp_practitioner"}


@pytest.mark.parametrize(
    "day,release,total_nf,noted",
    [
        (date(2025, 3, 1), "RVU25A", 4.28, False),
        (date(2025, 11, 1), "RVU25D", 4.28, False),
        (date(2026, 5, 1), "RVU26B", 4.43, False),
        (date(2026, 1, 15), "RVU26B", 4.43, True),  # January 2026 (RVU26A) is missing
        (date(2025, 6, 1), "RVU25A", 4.28, True),  # April and July 2025 are missing
    ],
    ids=["jan-2025", "oct-2025", "apr-2026", "missing-jan-2026", "missing-jun-2025"],
)
def test_release_in_force_on_the_date_of_service(kb, day, release, total_nf, noted):
    c = get_code(kb, "20702", day=day)
    assert (c.release, c.rvu.total_nonfacility) == (release, total_nf)
    assert any("pprrvu" in n for n in c.notices) is noted


def test_ptp_pairs_in_force(kb):
    c = get_code(kb, "20702")
    assert (c.ptp.column_1_count, c.ptp.column_2_count) == (216, 0)
    assert len(c.ptp.as_column_1) == PTP_PAGE and c.ptp.as_column_2 == ()
    assert "latest earlier release" in c.ptp.note
    pages = [ptp_pairs(kb, "20702", offset=o, limit=100) for o in (0, 100, 200)]
    assert [len(p.pairs) for p in pages] == [100, 100, 16] and {p.total for p in pages} == {216}
    every = [pair for p in pages for pair in p.pairs]
    assert every[:PTP_PAGE] == list(c.ptp.as_column_1)
    mi0 = sorted(p.column_2 for p in every if p.modifier == 0)
    assert len(mi0) == 60 and mi0[:3] == ["0213T", "0216T", "11982"]
    with pytest.raises(ValueError):
        ptp_pairs(kb, "20702", direction="both")


@pytest.mark.parametrize("code,direction", [("99213", "column_2"), ("27447", "column_1"), ("20702", "column_2")])
@pytest.mark.parametrize("day", [None, date(2010, 1, 1), date(2019, 6, 30), date(2026, 5, 1)])
def test_ptp_totals_match_the_edits_in_force(kb, code, direction, day):
    """The totals come from the precomputed ``ptp_counts``; count the edits themselves."""
    page = ptp_pairs(kb, code, direction=direction, day=day, limit=1)
    store = kb.resolve("ptp_practitioner", day).release.store
    on = day.year * 10000 + day.month * 100 + day.day if day else 99991231
    (n,) = (
        kb.ptp(store)
        .execute(
            f"SELECT count(*) FROM ptp_edits WHERE {direction} = ? AND (deleted IS NULL OR deleted > ?) "
            "AND (effective IS NULL OR effective <= ?)",
            (code, on, on),
        )
        .fetchone()
    )
    assert page.total == n


def test_presence_mask_matches_the_tables(kb):
    """A code page skips the tables whose bit is not set, so every bit must be right."""
    for i, (_, table, column) in enumerate(PRESENCE):
        with_rows = {r[0] for r in kb.query(f"SELECT DISTINCT {column} FROM {table}")}
        flagged = {r[0] for r in kb.query("SELECT code FROM code_presence WHERE mask & ?", (1 << i,))}
        assert with_rows == flagged, table
        assert with_rows, table


def test_icd10cm_s72001a(kb):
    d = get_code(kb, "S72.001A")
    assert (d.code, d.billable, d.status, d.chapter.code, d.block.code) == (
        "S72.001A",
        True,
        "billable",
        "19",
        "S70-S79",
    )
    assert [p.code for p in d.parents] == ["S72", "S72.0", "S72.00", "S72.001"]
    assert d.description == (
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )
    assert d.seventh_characters["A"] == "initial encounter for closed fracture"
    assert len(d.seventh_characters) == 16
    assert [n.text for n in d.excludes1] == ["traumatic amputation of hip and thigh (S78.-)"]
    assert "fracture of foot (S92.-)" in [n.text for n in d.excludes2]
    assert get_code(kb, "S72001A").code == "S72.001A"


def test_icd10cm_header_with_children_and_inclusion_terms(kb):
    d = get_code(kb, "S72.00")
    assert (d.billable, d.status) == (False, "header")
    assert [c.code for c in d.children] == ["S72.001", "S72.002", "S72.009"]
    assert d.inclusion_terms == ("Fracture of hip NOS", "Fracture of neck of femur NOS")


def test_unknown_code_suggests_neighbours(kb):
    with pytest.raises(UnknownCode) as info:
        get_code(kb, "20799")
    assert "20704" in info.value.suggestions and "20802" in info.value.suggestions


@pytest.mark.parametrize("bad", ["2x", "", "123456789", "S72..1", "<script>"])
def test_malformed_codes(kb, bad):
    with pytest.raises(MalformedCode):
        get_code(kb, bad)


def test_hcpcs_level2_code_with_asp_and_long_description(kb):
    c = get_code(kb, "J0897")
    assert c.system == "HCPCS" and c.long_description
    assert c.asp is not None and c.asp["payment_limit"] > 0


def test_a_block_of_one_category_shares_its_code(kb):
    """Block B10 holds only category B10: the hierarchy has both, once each."""
    d = get_code(kb, "B10.01")
    assert [p.code for p in d.parents] == ["B10", "B10.0"] and d.block.code == "B10"


# Categories alone in their block: the block has the category's code (from the April 2026 tabular)
SELF_BLOCKED = {
    "B10": False,
    "B20": True,
    "B99": False,
    "C50": False,
    "C7A": False,
    "C7B": False,
    "D3A": False,
    "D49": False,
    "D78": False,
    "E36": False,
    "E89": False,
    "F99": True,
    "H59": False,
    "H95": False,
    "J95": False,
    "L76": False,
    "M04": False,
    "M95": False,
    "M96": False,
    "M97": False,
    "M99": False,
    "N99": False,
    "O09": False,
    "P09": False,
    "P84": True,
    "QA0": False,
    "R97": False,
    "R99": True,
    "T07": False,
    "T14": False,
    "T79": False,
    "X50": False,
    "Z16": False,
    "Z17": False,
    "Z18": False,
    "Z19": False,
    "Z66": True,
    "Z67": False,
    "Z68": False,
}


def test_the_categories_alone_in_their_block_are_these(kb):
    rid = kb.releases["icd10cm"][-1].ids[0]
    rows = kb.query(
        "SELECT code, billable FROM icd10cm_codes WHERE release_id = ? AND kind = 'category' AND code = block", (rid,)
    )
    assert {c: bool(b) for c, b in rows} == SELF_BLOCKED


@pytest.mark.parametrize("code,billable", SELF_BLOCKED.items(), ids=list(SELF_BLOCKED))
def test_a_category_alone_in_its_block_is_not_its_own_child(kb, code, billable):
    d = get_code(kb, code)
    assert (d.billable, d.status, d.block.code, d.parents) == (billable, "billable" if billable else "header", code, ())
    assert code not in [c.code for c in d.children]
    if billable:
        assert d.children == ()
    else:  # a header: its children are its subcategories (or, T07, its 7th-character codes)
        assert d.children and all(c.code.startswith(f"{code}.") for c in d.children)


@pytest.mark.parametrize(
    "code,own,base",
    [
        ("S06.0X1A", (), (("Concussion with brief loss of consciousness", "S06.0X1"),)),
        ("S06.0X1S", (), (("Concussion with brief loss of consciousness", "S06.0X1"),)),
        ("S06.0X1", ("Concussion with brief loss of consciousness",), ()),
        ("S72.001A", (), ()),
        ("S72.00", ("Fracture of hip NOS", "Fracture of neck of femur NOS"), ()),
    ],
    ids=["7th-char-initial", "7th-char-sequela", "the-base-code", "base-without-terms", "header"],
)
def test_seventh_character_codes_have_their_base_codes_inclusion_terms(kb, code, own, base):
    d = get_code(kb, code)
    assert d.inclusion_terms == own
    assert tuple((n.text, n.source_code) for n in d.base_inclusion_terms) == base
    assert all(n.type == "inclusion_term" for n in d.base_inclusion_terms)


@pytest.mark.parametrize(
    "code,day,status,rows",
    [
        ("86153", date(2026, 6, 1), None, [("26", "A", "6", 0.99, 33.07, 33.07, 10505)]),
        ("45378", None, "A", [("53", "A", "0", 5.67, 189.38, 82.5, None)]),
        ("71046", None, "A", [("26", "A", "1", 0.3, 10.02, 10.02, None), ("TC", "A", "1", 0.69, 23.05, None, None)]),
        ("83020", None, "X", [("26", "A", "6", 0.53, 17.7, 17.7, None)]),
        ("45378", date(2025, 11, 1), "A", [("53", "A", "0", 5.07, 164.0, 88.95, None)]),
        ("99213", None, "A", []),
    ],
    ids=["only-26", "53", "26-and-tc", "x-with-26", "53-in-2025", "none"],
)
def test_every_modifier_row_on_the_code_page(kb, code, day, status, rows):
    c = get_code(kb, code, day=day)
    assert (c.status.code if c.status else None) == status
    got = [
        (
            m.modifier,
            m.status,
            m.indicators["pctc"].code,
            m.rvu.total_nonfacility,
            m.payment.nonfacility,
            m.payment.facility,
            m.citation.line if rows[0][6] else None,
        )
        for m in c.modifiers
    ]
    assert got == rows if rows else c.modifiers == ()
    for m in c.modifiers:
        assert m.citation.row == f"{code}-{m.modifier}" and m.citation.release == c.release
        assert m.status_meaning and m.conversion_factor == c.modifiers[0].conversion_factor


@pytest.mark.parametrize(
    "code,base",
    [
        ("45380", ("45378", "Diagnostic colonoscopy")),
        ("43239", ("43235", "Egd diagnostic brush wash")),
        ("29881", ("29870", "Arthrs knee dx w/wo syn bx")),
        ("45378", None),
        ("99213", None),
    ],
    ids=["colonoscopy", "egd", "knee-arthroscopy", "base-itself", "not-endoscopic"],
)
def test_endoscopic_base_code(kb, code, base):
    c = get_code(kb, code)
    assert (None if c.endoscopic_base is None else (c.endoscopic_base.code, c.endoscopic_base.description)) == base
    assert (c.indicators["mult_proc"].code == "3") is (base is not None)


def test_every_procedure_with_multiple_procedure_indicator_3_names_its_base(kb):
    rid = kb.releases["pprrvu"][-1].ids[0]
    rows = kb.query(
        "SELECT hcpcs, endo_base FROM rvus WHERE release_id = ? AND modifier = '' AND endo_base != ''", (rid,)
    )
    assert len(rows) > 300
    for code, base in rows:
        assert get_code(kb, code).endoscopic_base.code == base


@pytest.mark.parametrize(
    "code,day,families",
    [
        ("83020", None, ["ptp_practitioner", "clfs"]),
        ("J1920", None, ["hcpcs", "ptp_practitioner", "asc", "asp"]),
        ("E0100", None, ["hcpcs", "ptp_practitioner", "dmepos"]),
        ("45378", date(2025, 11, 1), ["mue_practitioner", "ptp_practitioner", "asc"]),
        ("20702", date(2026, 1, 15), ["pprrvu", "aoc", "mue_practitioner", "ptp_practitioner"]),
        ("20680", date(2026, 1, 15), ["pprrvu", "mue_practitioner", "aoc", "ptp_practitioner", "asc"]),
        ("E11.A", date(2025, 5, 1), ["icd10cm"]),
        ("E11.A", None, []),
    ],
    ids=["lab", "drug", "dme", "2025-mue", "missing-pfs", "primary-of-an-add-on", "icd-2025", "icd-newest"],
)
def test_every_release_notice_reaches_the_page(kb, code, day, families):
    """A part of the page answered from a release not in force on the date says so in ``notices``."""
    page = get_code(kb, code, day=day)
    assert [n.split()[1] for n in page.notices] == families
    assert all(n.startswith(f"No {f} release in force on ") for n, f in zip(page.notices, families, strict=True))


def test_previous_year_change_is_none_where_either_year_is_not_paid(kb):
    c = get_code(kb, "71046")  # facility NA in both years
    y = c.previous_year
    assert (
        y.release,
        y.payment.nonfacility,
        y.payment.facility,
        y.change_nonfacility,
        y.change_facility,
        y.change_nonfacility_pct,
    ) == ("RVU25D", 32.67, None, 0.4, None, 1.2)
    j = get_code(kb, "J1920").previous_year  # status E: no payment either year
    assert (j.payment.nonfacility, j.change_nonfacility, j.change_nonfacility_pct) == (None, None, None)
