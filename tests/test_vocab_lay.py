"""Plain-language descriptions (vocab/lay_*.tsv): strict loading, and every code exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from medcode import vocab
from medcode.kb.store import KnowledgeBase

BAD = "lay_a.tsv line 1: expected key<TAB>value, got"
GOOD = "# comment\n27447\tknee replacement; total knee arthroplasty\nM17.11\tarthritis of the right knee\n"


def test_good_files_load(tmp_path: Path) -> None:
    (tmp_path / "lay_a.tsv").write_text(GOOD, "utf-8")
    (tmp_path / "lay_b.tsv").write_text("J1100\tdexamethasone shot\n", "utf-8")
    (tmp_path / "other.tsv").write_text("not\ta lay file\tat all\n", "utf-8")
    assert vocab.lay_descriptions(tmp_path) == {
        "27447": "knee replacement; total knee arthroplasty",
        "M17.11": "arthritis of the right knee",
        "J1100": "dexamethasone shot",
    }


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"lay_a.tsv": "27447 knee replacement\n"}, f"{BAD} '27447 knee replacement'"),
        ({"lay_a.tsv": "27447\tknee\textra\n"}, f"{BAD} '27447\\tknee\\textra'"),
        ({"lay_a.tsv": "# c\n27447\t\n"}, "lay_a.tsv line 2: expected key<TAB>value, got '27447\\t'"),
        ({"lay_a.tsv": "27447\t   \n"}, f"{BAD} '27447\\t   '"),
        ({"lay_a.tsv": "27447\t knee\n"}, f"{BAD} '27447\\t knee'"),
        ({"lay_a.tsv": "27447\tknee\n27447\tknee again\n"}, "lay_a.tsv line 2: duplicate key '27447'"),
        (
            {"lay_a.tsv": "27447\tknee\n", "lay_b.tsv": "\n27447\tknee again\n"},
            "lay_b.tsv line 2: code 27447 is described already (lay_a.tsv line 1)",
        ),
        ({"lay_a.tsv": "knee\treplacement\n"}, "lay_a.tsv line 1: 'knee' is not a CPT, HCPCS or ICD-10-CM code"),
        ({"lay_a.tsv": "m17.11\tknee arthritis\n"}, "lay_a.tsv line 1: 'm17.11' is not a CPT, HCPCS or ICD-10-CM code"),
    ],
    ids=[
        "no-tab",
        "three-fields",
        "empty-text",
        "blank-text",
        "padded-text",
        "duplicate",
        "duplicate-across-files",
        "not-a-code",
        "lower-case-code",
    ],
)
def test_bad_files_are_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    with pytest.raises(vocab.VocabularyError) as caught:
        vocab.lay_descriptions(tmp_path)
    assert str(caught.value) == message


def test_every_described_code_is_an_active_code_of_the_knowledge_base(kb: KnowledgeBase) -> None:
    lay = vocab.lay_descriptions()
    known = {code for (code,) in kb.query("SELECT code FROM search_docs WHERE system != 'modifier' AND active = 1")}
    assert sorted(set(lay) - known) == []


def test_surgery_file_stays_in_its_range_and_length() -> None:
    text = (Path(vocab.__file__).parent / "lay_surgery.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    outside = [code for code, _ in rows if not ("10004" <= code <= "69990" and code.isdigit())]
    wordy = [code for code, description in rows if not 8 <= len(description.split()) <= 45]
    assert (outside, wordy, len(rows) >= 250) == ([], [], True)
