"""The ICD-10-CM Official Guidelines PDF read into sections (medcode.sources.icd10_guidelines): numbers
from the headings' labels, the printed page, the text without running headers or contents; strict
errors that name the file and page; the rows in the knowledge base."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfWriter

from medcode.sources import icd10_guidelines as g
from medcode.sources.layout import LayoutMismatch

PDF = "icd10/guidelines/icd_10_cm_october_2025_guidelines_0.pdf"


@pytest.fixture(scope="module")
def sections(data_dir: Path) -> dict[str, g.Section]:
    (sf,) = g.discover(data_dir)
    read = g.read(sf)
    by_number = {s.number: s for s in read}
    assert len(by_number) == len(read)
    return by_number


def test_release_from_the_file_name():
    sf = g.source_file(Path("icd_10_cm_october_2025_guidelines_0.pdf"))
    assert (sf.family, sf.release, str(sf.effective_from), str(sf.effective_to)) == (
        "icd10cm_guidelines",
        "FY2026",
        "2025-10-01",
        "2026-09-30",
    )
    april = g.source_file(Path("ICD-10-CM April 1 2026 Guidelines Final.pdf"))
    assert (april.release, str(april.effective_from), str(april.effective_to)) == (
        "FY2026-APR",
        "2026-04-01",
        "2026-09-30",
    )
    with pytest.raises(ValueError, match="no month and year"):
        g.source_file(Path("icd-10-cm-guidelines.pdf"))


def test_labels_give_the_level():
    assert g.split_label("Section I. Conventions", None) == ("section", "I", "Conventions")
    assert g.split_label("12. Excludes Notes", ("upper", "A")) == ("number", "12", "Excludes Notes")
    # "(i)" after "(h)" is the next letter; under "(a)" it is the roman numeral one
    assert g.split_label("(i) Encounters for HIV testing", ("letter_paren", "h"))[0] == "letter_paren"
    assert g.split_label("(i) Negative blood cultures", ("letter_paren", "a"))[0] == "roman_paren"
    assert g.split_label("(ii) Urosepsis", ("roman_paren", "i"))[0] == "roman_paren"
    assert g.split_label("(v) Acute respiratory failure", ("roman_paren", "iv"))[0] == "roman_paren"
    assert g.split_label("Present on Admission Reporting Guidelines", None) is None


def test_sections_numbered_as_the_guidelines_cite_them(sections):
    s = sections["I.C.9.a.2"]
    assert (s.title, s.parent, s.depth, s.page, s.page_end) == (
        "Hypertensive Chronic Kidney Disease",
        "I.C.9.a",
        4,
        50,
        51,
    )
    assert s.text.startswith("Assign codes from category I12, Hypertensive chronic kidney disease")
    assert sections["I.A.12.a"].title == "Excludes1" and sections["I.A.12.a"].page == 9
    assert "NOT CODED HERE" in sections["I.A.12.a"].text
    assert sections["I.B.10"].page == 14 and "no time limit" in sections["I.B.10"].text
    assert sections["I.C.1.d.1.a.ii"].title == "Urosepsis"
    assert sections["I.C.1.a.2.i"].title == "Encounters for HIV testing"
    # the FY2026 outline nests "d. Dementia" a level too deep; its label puts it beside c.
    assert sections["I.C.5.d"].title == "Dementia" and sections["I.C.5.d"].parent == "I.C.5"
    assert (sections["II.H"].page, sections["IV.H"].page) == (109, 114)
    assert sections["IV.H"].text.startswith("Do not code diagnoses documented as")
    app = sections["App.I"]
    assert (app.title, app.page, app.page_end) == ("Appendix I. Present on Admission Reporting Guidelines", 116, 121)
    assert sections["Intro"].page == 1 and sections["I"].title.startswith("Conventions, general coding")


def test_every_parent_exists_and_pages_only_grow(sections):
    ordered = sorted(sections.values(), key=lambda s: s.seq)
    assert len(ordered) == 491
    for before, s in zip(ordered, ordered[1:], strict=False):
        assert s.page >= before.page and s.page_end >= s.page
        assert s.parent == "" or s.parent in sections, s.number
        assert s.number.startswith(s.parent), s.number


def test_text_without_running_headers_or_contents(sections):
    for s in sections.values():
        assert "Page " not in s.text or " of 121" not in s.text, s.number
        assert g.DOT_LEADER.search(s.text) is None, s.number
    # the introduction is page 1 only: the table of contents (pages 2-6) is skipped
    assert sections["Intro"].page_end == 1


def test_not_a_pdf_names_the_file_and_page(tmp_path):
    bad = tmp_path / "icd_10_cm_october_2025_guidelines.pdf"
    bad.write_text("not a pdf")
    with pytest.raises(LayoutMismatch) as info:
        g.read(g.source_file(bad))
    assert str(bad) in str(info.value) and "page 1" in str(info.value)


def test_a_release_the_first_page_does_not_name(tmp_path, data_dir):
    wrong = tmp_path / "icd_10_cm_october_2024_guidelines.pdf"
    shutil.copy(data_dir / PDF, wrong)
    with pytest.raises(g.GuidelinesMismatch) as info:
        g.read(g.source_file(wrong))
    assert info.value.page == 1 and "FY 2025" in str(info.value) and str(wrong) in str(info.value)


def test_a_missing_page_is_caught_at_the_page(tmp_path, data_dir):
    writer = PdfWriter(clone_from=data_dir / PDF)
    del writer.pages[2]
    short = tmp_path / "icd_10_cm_october_2025_guidelines.pdf"
    writer.write(short)
    with pytest.raises(g.GuidelinesMismatch) as info:
        g.read(g.source_file(short))
    assert str(short) in str(info.value) and "page 2" in str(info.value) and "of 120" in str(info.value)


def test_ingested_with_its_release(kb):
    rows = kb.query(
        "SELECT r.release, r.file, count(*) FROM icd10cm_guidelines JOIN releases r ON r.id = release_id GROUP BY 1, 2"
    )
    assert rows == [("FY2026", "icd_10_cm_october_2025_guidelines_0.pdf", 491)]
    assert kb.query("SELECT page, title FROM icd10cm_guidelines WHERE number = 'II.H'") == [
        (109, "Uncertain Diagnosis")
    ]
