"""Each source module against the real files (row counts from the PROVENANCE files), and the
strict readers against hand-made broken files in tests/data."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from medcode.ingest import SOURCES
from medcode.sources import gpci, icd10cm, ncci_ptp, pprrvu, zip5
from medcode.sources.files import SourceFile
from medcode.sources.layout import LayoutMismatch
from medcode.sources.ncci_ptp import Parsed

HAND = Path(__file__).parent / "data"

# (file name, family, release, rows) as the PROVENANCE files count them.
EXPECTED = [
    ("PPRRVU2026_Apr_nonQPP.txt", "pprrvu", "RVU26B", 19277),
    ("PPRRVU2025_Oct.csv", "pprrvu", "RVU25D", 19090),
    ("PPRRVU25_JAN.csv", "pprrvu", "RVU25A", 18865),
    ("GPCI2026.csv", "gpci", "RVU26B", 109),
    ("ZIP5_OCT2025.txt", "zip5", "2025Q4", 42956),
    ("OPPSCAP_Oct.csv", "oppscap", "RVU25D", 16100),
    ("508-Version-Jan-2025-ASC-AA.csv", "asc", "2025Q1", 4183),
    ("508-Version-Jan-2025-ASC-BB.csv", "asc", "2025Q1", 2458),
    ("508-Version-Jan-2025-ASC-EE.csv", "asc", "2025Q1", 2108),
    ("HCPC2025_JUL_ANWEB_v3_trimmed.csv", "hcpcs", "2025Q3", 8770),
    ("AOC_V2026Q2-MCR.xlsx", "aoc", "2026Q2", 9000),
    ("MCR_MUE_PractitionerServices_Eff_04-01-2026.csv", "mue_practitioner", "2026Q2", 15095),
    ("CLFS_2025_Q1V1.csv", "clfs", "2025Q1", 2087),
    ("DMEPOS_JAN.csv", "dmepos", "2025Q1", 3487),
    ("section_508_version_of_Jan_2025_ASP_Pricing_File_updated_030725.csv", "asp", "2025Q1", 877),
    ("25LOCCO.csv", "locality", "RVU25D", 110),
    ("ANES2025.csv", "anes", "RVU25A", 109),
    ("medicare_ptp_practitioner_2024q3_v302r0.from_northstar.tsv.gz", "ptp_practitioner", "2024Q3 v30.2", 2546017),
    ("medicare_ptp_outpatient_hospital_2024q3_v302r0.from_northstar.tsv.gz", "ptp_hospital", "2024Q3 v30.2", 1775818),
]


@pytest.mark.parametrize("name,family,release,rows", EXPECTED, ids=[e[0][:40] for e in EXPECTED])
def test_real_files_loaded_whole(built, name, family, release, rows):
    _, summary = built
    match = [(pf, res) for pf, res in summary.files if pf.source.path.name == name and pf.source.release == release]
    assert match, f"{name} {release} was not ingested"
    pf, res = match[0]
    assert (pf.source.family, res.rows) == (family, rows)


def test_every_module_finds_its_files(data_dir):
    for module in SOURCES:
        assert module.discover(data_dir), f"{module.__name__} found no file"


def test_icd10cm_matches_the_release(kb):
    counts = kb.query("SELECT count(*), sum(billable) FROM icd10cm_codes")
    assert counts == [(98505, 74719)]


def test_pprrvu_fixed_width_row(data_dir):
    sf = next(s for s in pprrvu.discover(data_dir) if s.release == "RVU26B")
    row = next(r for r in pprrvu.parse(sf) if r[0] == "20702")
    assert row == (
        "20702",
        "",
        1689,
        "Mnl prep&insj imed rx dev",
        "A",
        "",
        2.44,
        1.5,
        "",
        0.75,
        "",
        0.49,
        4.43,
        3.68,
        "0",
        "ZZZ",
        0.0,
        0.0,
        0.0,
        "0",
        "0",
        "0",
        "0",
        "0",
        "9",
        "",
        33.4009,
        "09",
        "0",
        "99",
        0.0,
        0.0,
        0.0,
    )


def _copy(tmp_path: Path, src: Path, name: str | None = None) -> Path:
    dst = tmp_path / (name or src.name)
    shutil.copy(src, dst)
    return dst


BROKEN = [
    # (hand-made file, module, release layout, line, column)
    ("rvu_fixed_short_line.txt", pprrvu, "fixed_2026", 3, "150"),
    ("gpci_drifted_header.csv", gpci, "gpci_2026", 3, "5"),
    ("gpci_missing_column.csv", gpci, "gpci_2026", 5, "8"),
    ("zip_bad_width.txt", zip5, "zip5", 2, "79"),
]


@pytest.mark.parametrize("name,module,layout,line,column", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_name_file_line_and_column(name, module, layout, line, column):
    path = HAND / name
    sf = SourceFile(module.FAMILY, path, "TEST", layout, *_span())
    with pytest.raises(LayoutMismatch) as info:
        list(module.parse(sf))
    err = info.value
    assert (Path(err.file).name, err.line, err.column.split(" ")[0]) == (name, line, column)
    assert name in str(err)


def _span():
    from datetime import date

    return date(2026, 1, 1), date(2026, 12, 31)


def test_layout_mismatch_survives_a_process_boundary():
    err = LayoutMismatch("f.csv", 3, "2 (x)", "bad")
    back = pickle.loads(pickle.dumps(err))
    assert (back.file, back.line, back.column, back.message, str(back)) == ("f.csv", 3, "2 (x)", "bad", str(err))


def test_ptp_official_layout_on_the_cms_preamble(data_dir):
    """The official tab-delimited layout, read with the real CMS preamble and 4-line header
    (the layout fixture's data rows are synthetic; its header is the CMS one)."""
    path = next((data_dir / "ncci/ptp/excerpts").glob("layout_fixture_*"))
    sf = SourceFile("ptp_practitioner", path, "TEST", "official", *_span())
    parsed = Parsed()
    rows = list(ncci_ptp.parse(sf, {}, parsed))
    assert parsed.first_line == 7
    assert rows[0] == ("11042", "97597", "*", "19960101", None, "1", 1)
    assert rows[4] == ("36415", "36416", "", "20020101", "20231231", "9", 4)


def test_ptp_official_layout_with_real_2026_rows(tmp_path, data_dir):
    """The 18 real 2026 Q4 practitioner rows for 64772, written in the official layout."""
    src = data_dir / "ncci/ptp/excerpts/fixture_64772_practitioner_2026q4_v323r0.tsv"
    lines = src.read_text().splitlines()[1:]
    preamble = (HAND / "ptp_official_preamble.txt").read_text()
    official = tmp_path / "ccipra-v323r0-f1.txt"
    official.write_text(preamble + "\n".join(lines) + "\n", encoding="latin-1")
    (sf,) = ncci_ptp.discover(tmp_path)
    assert (sf.family, sf.release, str(sf.effective_from)) == ("ptp_practitioner", "2026Q4 v32.3", "2026-10-01")
    rows = list(ncci_ptp.parse(sf, {}))
    assert len(rows) == 18
    assert rows[0] == ("64772", "64490", "", "20100101", None, "0", 1)


def test_ptp_wrong_column_count(tmp_path):
    bad = tmp_path / "ccipra-v323r0-f1.txt"
    bad.write_text((HAND / "ptp_official_preamble.txt").read_text() + "64772\t64490\t\t20100101\t*\t0\n")
    (sf,) = ncci_ptp.discover(tmp_path)
    with pytest.raises(LayoutMismatch) as info:
        list(ncci_ptp.parse(sf, {}))
    assert (info.value.line, info.value.column) == (7, "7")


def test_icd10cm_release_dates(data_dir):
    (sf,) = icd10cm.discover(data_dir)
    assert (sf.release, str(sf.effective_from), str(sf.effective_to)) == ("FY2026-APR", "2026-04-01", "2026-09-30")
