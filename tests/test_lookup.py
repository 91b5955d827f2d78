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


@pytest.mark.parametrize("day,release,total_nf,noted", [
    (date(2025, 3, 1), "RVU25A", 4.28, False),
    (date(2025, 11, 1), "RVU25D", 4.28, False),
    (date(2026, 5, 1), "RVU26B", 4.43, False),
    (date(2026, 1, 15), "RVU26B", 4.43, True),   # January 2026 (RVU26A) is missing
    (date(2025, 6, 1), "RVU25A", 4.28, True),    # April and July 2025 are missing
], ids=["jan-2025", "oct-2025", "apr-2026", "missing-jan-2026", "missing-jun-2025"])
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
    (n,) = kb.ptp(store).execute(
        f"SELECT count(*) FROM ptp_edits WHERE {direction} = ? AND (deleted IS NULL OR deleted > ?) "
        "AND (effective IS NULL OR effective <= ?)", (code, on, on)).fetchone()
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
        "S72.001A", True, "billable", "19", "S70-S79")
    assert [p.code for p in d.parents] == ["S72", "S72.0", "S72.00", "S72.001"]
    assert d.description == ("Fracture of unspecified part of neck of right femur, "
                             "initial encounter for closed fracture")
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
