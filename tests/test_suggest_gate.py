"""Case2Code on narrative notes: the affirmed words the learned model may read, the confidence gate of the
coding rules (``language.coding``), and which notes are narratives (``suggest.narrative``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medcode.language import coding
from medcode.language.context import Context
from medcode.language.note import read
from medcode.suggest import narrative, suggest, symptoms
from medcode.suggest.affirmed import affirmed

NOTES = Path(__file__).parent / "data" / "notes"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She was negative for fever and chills.", "She                                  ."),
        ("Dry cough, no fever.", "Dry cough,         ."),
        ("Allergies: PCN (rash).\nHPI: cough.", "                      \nHPI: cough."),
        ("His mother had breast cancer. He has a cough.", "                            . He has a cough."),
        ("Fever and cough for three days.", "Fever and cough for three days."),
    ],
    ids=["negative-for", "no", "allergies-section", "family", "all-affirmed"],
)
def test_affirmed_blanks_words_keeps_offsets(text: str, expected: str) -> None:
    assert affirmed(read(text)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01-office-htn-ckd.txt", False),
        ("10-proc-wrist-injection-left.txt", False),
        (None, True),
    ],
    ids=["office-note", "procedure-note", "case-report"],
)
def test_narrative(name: str | None, expected: bool) -> None:
    text = (
        (NOTES / name).read_text(encoding="utf-8")
        if name
        else "A 60-year-old man presented with abdominal pain. CT showed acute appendicitis. He recovered."
    )
    assert narrative(read(text)) is expected


def _dx(code: str, conf: float, **ctx: object) -> coding.Dx:
    return coding.Dx(code, conf, (), "test", Context(**ctx), "", 0)  # type: ignore[arg-type]


# (items, gate, expected codes): a confident code stands; below the gate (or without one) the rule applies
GATE_CASES = [
    ("history-confident", [_dx("C50.911", 0.5, historical=True, triggers=("history of",))], 0.25, ["C50.911"]),
    ("history-weak", [_dx("C50.911", 0.2, historical=True, triggers=("history of",))], 0.25, ["Z85.3"]),
    ("history-no-gate", [_dx("C50.911", 0.9, historical=True, triggers=("history of",))], None, ["Z85.3"]),
    ("uncertain-confident", [_dx("J18.9", 0.5, uncertain=True)], 0.25, ["J18.9"]),
    ("uncertain-no-gate", [_dx("J18.9", 0.9, uncertain=True)], None, []),
    ("negated-always-dropped", [_dx("J18.9", 0.9, negated=True)], 0.25, []),
    ("excludes1-both-confident", [_dx("M54.50", 0.4), _dx("M54.42", 0.6)], 0.25, ["M54.50", "M54.42"]),
    ("excludes1-weak-goes", [_dx("M54.50", 0.2), _dx("M54.42", 0.6)], 0.25, ["M54.42"]),
    ("unspecified-beside-specific-confident", [_dx("M17.9", 0.5), _dx("M17.11", 0.5)], 0.25, ["M17.9", "M17.11"]),
    ("unspecified-beside-specific-no-gate", [_dx("M17.9", 0.5), _dx("M17.11", 0.5)], None, ["M17.11"]),
]


@pytest.mark.parametrize(("items", "gate", "expected"), [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES])
def test_coding_gate(kb, items: list[coding.Dx], gate: float | None, expected: list[str]) -> None:
    got = coding.apply(kb, items, None, lambda d: "", [], gate)
    assert [d.code for d in got] == expected


@pytest.mark.parametrize(
    ("code", "words", "gate", "expected"),
    [
        ("R52", "generalized pain", None, "R52"),  # a block's codes are not siblings (not R61 hyperhidrosis)
        ("R11.10", "nausea and vomiting", None, "R11.10"),  # not "vomiting without nausea"
        ("N18.9", "chronic kidney disease stage 4", None, "N18.4"),
        ("N18.9", "chronic kidney disease stage 4", 0.25, "N18.4"),  # (severe) is optional
        ("L53.9", "erythema of the trunk", None, "L53.0"),  # half of "toxic erythema" is said
        ("L53.9", "erythema of the trunk", 0.25, "L53.9"),  # a confident code needs all of it
    ],
    ids=["block", "without", "stage", "stage-confident", "half", "half-confident"],
)
def test_specific(kb, code: str, words: str, gate: float | None, expected: str) -> None:
    from medcode.language.icd_table import Table

    assert coding.specific(Table(kb, None), _dx(code, 0.5), words, gate).code == expected


@pytest.mark.parametrize(
    ("gate", "expected"),
    [(None, ["K35.80"]), (0.25, ["R52", "K35.80"])],
    ids=["no-gate", "gate"],
)
def test_symptom_alone_gate(gate: float | None, expected: list[str]) -> None:
    items = [_dx("R52", 0.5), _dx("K35.80", 0.5)]
    assert [d.code for d in symptoms(items, gate)] == expected


def test_negated_fever_not_coded_in_narrative(kb) -> None:
    """The learned model alone would give fever (R50.9) for "negative for fever" (0.61 on the full text)."""
    text = (
        "A 45-year-old woman presented with dry cough for three days. She was negative for fever and chills. "
        "Chest X-ray was normal. She was diagnosed with acute bronchitis and treated symptomatically."
    )
    codes = [d.code for d in suggest(kb, text).diagnoses]
    assert "R50.9" not in codes and "J20.9" in codes
