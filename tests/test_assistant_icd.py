"""CasePilot's ICD-10-CM answerers (medcode.assistant.answers_icd) against the real knowledge base:
the development set's rows of their kinds (bench/ask_dev.tsv, checked against the official files),
with the Questions built here (the parser is tested on its own), and cases of each kind."""

from __future__ import annotations

import importlib.util
import re
import statistics
import sys
import time
from pathlib import Path

import pytest

from medcode.assistant import guidelines as gl
from medcode.assistant.answers_icd import ANSWERS as ICD_ANSWERS
from medcode.assistant.answers_seventh import ANSWERS as SEVENTH_ANSWERS
from medcode.assistant.model import Answer, Question

ANSWERS = {**ICD_ANSWERS, **SEVENTH_ANSWERS}
ROOT = Path(__file__).parent.parent
CODE = re.compile(r"\b([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b")


def _bench():
    spec = importlib.util.spec_from_file_location("ask_bench", ROOT / "bench" / "ask_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ask_bench", module)
    spec.loader.exec_module(module)
    return module


def _question(text: str, kind: str, **kw) -> Question:
    """What the parser reads from a question, as far as these answerers need: the ICD-10-CM codes in
    it, or its words as lay terms when it names none."""
    codes = tuple(CODE.findall(text))
    return Question(text=text, kind=kind, codes=kw.pop("codes", codes), terms=None if codes else text, **kw)


def ask(kb, text: str, kind: str, **kw) -> Answer:
    return ANSWERS[kind](kb, _question(text, kind, **kw))


def test_dev_set_rows_of_the_icd_kinds(kb):
    bench = _bench()
    by_kind: dict[str, list[bool]] = {}
    misses, made, seconds = [], [], []
    for row in bench.read_rows():
        if row.kind not in ANSWERS:
            continue
        q = _question(row.question, row.kind)
        t0 = time.perf_counter()
        answer = ANSWERS[row.kind](kb, q)
        seconds.append(time.perf_counter() - t0)
        bad = bench.failures(row, answer)
        by_kind.setdefault(row.kind, []).append(not bad)
        made.extend(bench.invented(kb, answer))
        if bad:
            misses.append(f"{row.question}: {bad}")
        assert answer.citations, row.question
        assert answer.kind == row.kind
    assert set(by_kind) == set(ANSWERS)
    right = sum(sum(v) for v in by_kind.values())
    total = sum(len(v) for v in by_kind.values())
    assert total == 78
    assert made == []  # no code in an answer that is not a code, or that the answer does not list
    assert right / total >= 0.95, misses
    for kind, results in by_kind.items():
        assert sum(results) / len(results) >= 0.85, (kind, misses)
    assert statistics.median(seconds) < 0.05


def test_header_is_not_billable_and_names_its_codes(kb):
    a = ask(kb, "Is S72.0 billable?", "icd_billable")
    assert a.answer.startswith("No, S72.0") and "not billable" in a.answer
    assert {"S72.0", "S72.00", "S72.01", "S72.09"} <= set(a.codes)
    assert a.citations[0].family == "icd10cm" and a.citations[0].row == "S72.0"
    assert a.citations[0].link == "/codes/S72.0#children-h"
    rule = [c for c in a.citations if c.family == "icd10cm_guidelines"]
    assert [c.row for c in rule] == ["I.A.3 p. 7"] and rule[0].release == "FY2026"
    assert a.confidence == "high" and a.followups


def test_billable_code_says_yes(kb):
    a = ask(kb, "is E11.9 billabel", "icd_billable")
    assert a.answer.startswith("Yes, E11.9") and a.codes == ("E11.9",)
    assert not any(c.family == "icd10cm_guidelines" for c in a.citations)


def test_code_needing_a_7th_character(kb):
    a = ask(kb, "Can I bill T36.0X1?", "icd_billable")
    assert "needs a 7th character" in a.answer
    assert a.codes == ("T36.0X1", "T36.0X1A", "T36.0X1D", "T36.0X1S")


def test_no_code_is_a_low_confidence_answer(kb):
    a = ask(kb, "Is it billable?", "icd_billable", codes=(), unknown=("Q99.99",))
    assert a.confidence == "low" and "Q99.99" in a.answer and a.codes == ()


def test_children(kb):
    a = ask(kb, "What's under E11.4?", "icd_children")
    assert a.codes == ("E11.4", "E11.40", "E11.41", "E11.42", "E11.43", "E11.44", "E11.49")
    assert "6 codes directly under it" in a.answer
    leaf = ask(kb, "children of I10", "icd_children")
    assert "no codes under it" in leaf.answer and "billable itself" in leaf.answer


def test_excludes1_pair_is_not_coded_together(kb):
    a = ask(kb, "Can E11.9 and E10.9 be coded together?", "excludes")
    assert a.answer.startswith("No, not together.")
    assert "Excludes1 at E11: type 1 diabetes mellitus (E10.-)" in a.answer
    assert {"E10", "E11"} <= set(a.codes)
    assert "I.A.12.a p. 9" in [c.row for c in a.citations]
    assert "/codes/E11.9#excludes1-h" in [c.link for c in a.citations]


def test_excludes2_pair_may_be_coded_together(kb):
    a = ask(kb, "Can L89.153 and E11.621 go on the same claim?", "excludes")
    assert a.answer.startswith("Yes, both may be coded")
    assert "Excludes2 at L89" in a.answer and "I.A.12.b p. 10" in [c.row for c in a.citations]


def test_excludes_by_topic_and_type(kb):
    a = ask(kb, "Does F02 exclude vascular dementia?", "excludes")
    assert "Excludes2 at F02: vascular dementia" in a.answer and "Excludes1" not in a.answer.split(" means")[0]
    only1 = ask(kb, "What does the S72 Excludes1 note say?", "excludes")
    assert "Excludes2" not in only1.answer and "S78" in only1.codes


def test_code_first_and_use_additional(kb):
    a = ask(kb, "What must be coded before F02.80?", "code_first")
    assert "Code first at F02: the underlying physiological condition, such as: Alzheimer's (G30.-)" in a.answer
    assert {"F02.80", "F02", "G30"} <= set(a.codes)
    assert "I.A.13 p. 10" in [c.row for c in a.citations]
    more = ask(kb, "Any use additional code note for E11.9?", "code_first")
    assert "Use additional code at E11" in more.answer and "Z79.4" in more.codes


def test_seventh_character_chosen_from_the_question(kb):
    a = ask(kb, "Subsequent encounter, closed fracture with nonunion, S72.001: which code?", "seventh")
    assert a.answer.startswith("The code is S72.001K") and "S72.001K" in a.codes
    b = ask(kb, "Breech presentation O32.1, single fetus: what 7th character?", "seventh")
    assert "O32.1XX0" in b.codes and "placeholder" in b.answer
    assert "I.A.4 p. 7" in [c.row for c in b.citations]
    meaning = ask(kb, "What does 7th character D mean on S72 codes?", "seventh")
    assert "subsequent encounter for closed fracture with routine healing" in meaning.answer


def test_seventh_characters_of_a_code_written_with_its_placeholder(kb):
    a = ask(kb, "Which 7th characters can M80.08X take?", "seventh", codes=(), unknown=("M80.08X",))
    assert a.codes == ("M80.08", "M80.08XA", "M80.08XD", "M80.08XG", "M80.08XK", "M80.08XP", "M80.08XS")


def test_seventh_from_lay_words_is_medium(kb):
    a = ask(kb, "Right ankle sprain, unspecified ligament, follow-up visit after treatment: which code?", "seventh")
    assert "S93.401D" in a.codes and a.confidence == "medium" and a.notices


def test_guideline_cites_section_and_page(kb):
    a = ask(kb, "Is there a time limit on using a sequela code?", "guidelines")
    assert a.answer.startswith("Guideline I.B.10 (Sequela (Late Effects), page 14")
    assert "There is no time limit on when a sequela code can be used." in a.answer
    (c,) = a.citations
    assert (c.family, c.release, c.file, c.row) == (
        "icd10cm_guidelines",
        "FY2026",
        "icd_10_cm_october_2025_guidelines_0.pdf",
        "I.B.10 p. 14",
    )
    assert len(a.followups) == 2 and all("guideline" in f for f in a.followups)


def test_guideline_codes_are_listed(kb):
    a = ask(kb, "Type 2 diabetic on insulin and oral meds: which Z79 codes?", "guidelines")
    assert {"Z79.4", "Z79.84"} <= set(a.codes)


def test_setting_words_choose_inpatient_or_outpatient_rules(kb):
    inpatient = ask(kb, "Inpatient discharge says 'probable pneumonia': do I code it?", "guidelines")
    outpatient = ask(kb, "Outpatient visit, 'rule out pneumonia': can I code pneumonia?", "guidelines")
    assert inpatient.citations[0].row == "II.H p. 109" and "as if it existed" in inpatient.answer
    assert outpatient.citations[0].row == "IV.H p. 114" and outpatient.answer.count("Do not code") == 1


def test_a_named_section_is_answered(kb):
    a = ask(kb, "What does guideline I.C.9.a.2 say?", "guidelines")
    assert a.citations[0].row == "I.C.9.a.2 p. 50" and "I12" in a.codes


def test_guideline_nothing_found_is_low(kb):
    a = ask(kb, "zzqx wvvy?", "guidelines")
    assert a.confidence == "low" and a.citations == ()


@pytest.mark.parametrize(
    "question,number",
    [
        ("How do I code urosepsis?", "I.C.1.d.1.a.ii"),
        ("Multiple burns: which one goes first?", "I.C.19.d.1"),
        ("What does an Excludes2 note mean?", "I.A.12.b"),
        ("Cancer excised, no further treatment, no evidence of disease: which code?", "I.C.2.d"),
    ],
)
def test_guideline_sections(kb, question, number):
    g = gl.load(kb)
    assert g is not None
    assert gl.find(g, question, 1)[0].section.number == number
