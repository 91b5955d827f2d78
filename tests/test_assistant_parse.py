"""CasePilot's question reader (medcode.assistant.parse), its conversations and ``medcode.ask``'s
own answers (a code that is not one, a kind with no answerer), on the real knowledge base."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

import medcode
from medcode.assistant import _answer, ask, conversation
from medcode.assistant.model import Question
from medcode.assistant.parse import KINDS, parse, rules
from medcode.vocab import VocabularyError
from medcode.vocab.tsv import parse as parse_tsv

DEV = Path(__file__).resolve().parent.parent / "bench" / "ask_dev.tsv"
STYLES = ("lay", "typo", "locality", "followup", "not_a_code", "stale_date")
# The underlying kind of the dev set's question styles (read from their expect/verified columns);
# not_a_code rows are checked for their unknown code instead.
STYLE_KINDS = {
    "What's Medicare's 2026 office rate for a cortisone shot in the knee joint, national?": "payment",
    "How much does Medicare pay the surgeon for a total knee replacement, national 2026?": "payment",
    "What does a follow-up annual wellness visit pay nationally in 2026?": "payment",
    "cataract surgery surgeon fee in Manhattan, 2026?": "payment",
    "wat is the globel period for 27447": "global",
    "is E11.9 billabel": "icd_billable",
    "medicare paymnet for 99214 in manhatan 2026 ofice": "payment",
    "whats the mue limt for 96372": "mue",
    "addon primry for 15272": "addon",
    "does E11 exclud tipe 1 diabetis": "excludes",
    "guidlines: can R65.2 be the principle diagnosis": "guidelines",
    "staus of 99417 on the fee schedual": "status",
    "chldren codes undr M17.1": "icd_children",
    "locallity for zip 60601": "locality",
    "What does 99214 pay nationally in the office in 2026? || and in Manhattan?": "payment",
    "Is M17.1 billable? || what about M17.11?": "icd_billable",
    "What's the MUE for 20610? || and for 20611?": "mue",
    "What's the global period for 27447? || and 29881?": "global",
    "Is 64484 an add-on code? || what's its MUE?": "mue",
    "What's the total non-facility RVU for 99215 in 2026? || what was it in 2025?": "payment",
    "What does 20610 pay in Chicago in 2026 in the office? || and the facility rate?": "payment",
    "Can 12001 and 12002 be billed together? || what about 20552 with 20553?": "ptp",
    "What 7th characters does S93.401 take? || give me the sequela code": "seventh",
    "Which locality is ZIP 10001? || what does 99213 pay there in a facility in 2026?": "payment",
    "What will 99213 pay in 2027?": "payment",
    "What's the 2027 national rate for 20610?": "payment",
}


def _dev_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in DEV.read_text("utf-8").splitlines():
        if line.startswith("#") or line.startswith("kind\t") or not line.strip():
            continue
        kind, question, expect, _ = line.split("\t")
        rows.append((kind, question, expect))
    return rows


def _expected(kind: str, question: str) -> str | None:
    if kind not in STYLES:
        return kind
    if question in STYLE_KINDS:
        return STYLE_KINDS[question]
    if kind == "stale_date":
        return "ptp"
    if kind == "locality":
        return "locality"
    if kind == "lay":
        return "description"
    return None


def _ask_all(kb: medcode.KnowledgeBase, question: str) -> Question:
    previous = None
    for part in question.split(" || "):
        previous = parse(kb, part, previous)
    assert previous is not None
    return previous


def test_kind_detection_on_the_dev_set(kb: medcode.KnowledgeBase) -> None:
    right, total, misses = 0, 0, []
    for kind, question, _ in _dev_rows():
        want = _expected(kind, question)
        if want is None:
            continue
        got = _ask_all(kb, question).kind
        total += 1
        right += got == want
        if got != want:
            misses.append(f"{question!r}: {got}, expected {want}")
    assert total >= 270
    assert right / total >= 0.90, "\n".join(misses)


def test_dev_set_codes_and_unknown_codes(kb: medcode.KnowledgeBase) -> None:
    """Every code a dev question names is read (dotted ICD-10-CM), and every not_a_code row's code is unknown."""
    for kind, question, expect in _dev_rows():
        q = _ask_all(kb, question)
        if kind == "not_a_code":
            assert q.unknown and not q.codes, question
            continue
        if kind in ("description", "status", "global", "mue", "payment", "icd_billable", "addon"):
            first = next(c.split(":", 1)[1] for c in expect.split(";") if c.startswith("code:"))
            assert first in q.codes, (question, q.codes)


def test_codes_of_every_shape(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "Is 0054T, 1036F, J1100, 99213 or E119 or S720 or M80.08X right?")
    assert q.codes == ("0054T", "1036F", "J1100", "99213", "E11.9", "S72.0", "M80.08X")
    assert parse(kb, "Is S720 billable?").codes == ("S72.0",)
    assert parse(kb, "Is S720 billable?").kind == "icd_billable"
    q = parse(kb, "What does 2070A mean, and 99216?")
    assert q.codes == () and q.unknown == ("2070A", "99216")
    # a three-character word with a digit is not called a code
    assert parse(kb, "code for vitamin B12 deficiency").unknown == ()


def test_ranges_and_comparisons(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "Which of 20700-20704 is an add-on?")
    assert q.codes == ("20700", "20701", "20702", "20703", "20704")
    q = parse(kb, "20700 vs 20702 vs 20704?")
    assert q.codes == ("20700", "20702", "20704") and q.kind == "siblings"


def test_modifiers(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "Is 20610 + 99213-25 OK?")
    assert q.kind == "claim" and q.modifiers == {"99213": ("25",)}
    q = parse(kb, "Does 20702 need modifier 51?")
    assert q.kind == "modifiers" and q.modifiers == {"20702": ("51",)}
    q = parse(kb, "Would 45385 + 45380-59-XS pass NCCI?")
    assert q.modifiers == {"45380": ("59", "XS")}
    q = parse(kb, "Claim: 99213-25, 20610-RT, J3301 x 4")
    assert q.kind == "claim" and q.modifiers == {"99213": ("25",), "20610": ("RT",)}
    q = parse(kb, "professional component (-26) of 73721 in 2026")
    assert q.modifiers == {"73721": ("26",)}


def test_places_dates_and_settings(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "What does 99213 pay in Manhattan in 2025 in a facility?")
    assert (q.kind, q.locality, q.place, q.year, q.day, q.setting) == (
        "payment",
        "13202-01",
        "manhattan",
        2025,
        None,
        "facility",
    )
    assert parse(kb, "99203 office payment in San Francisco").locality == "01112-05"
    assert parse(kb, "99203 payment in Chicago").locality == "06102-16"
    assert parse(kb, "99203 payment in suburban Chicago").locality == "06102-15"
    assert parse(kb, "What's Alaska's work GPCI?").locality == "02102-01"
    # a state with several localities is a place without a locality (the answer says so); with one, its locality
    q = parse(kb, "how much does 99213 pay in Texas?")
    assert (q.place, q.locality) == ("texas", None)
    assert parse(kb, "how much does 99213 pay in Iowa?").locality == "05102-00"
    assert parse(kb, "Medicare rate for 20610 in 90210").zip == "90210"
    q = parse(kb, "what does 99214 pay in ZIP 10001, non-facility, on 3/1/2026?")
    assert (q.zip, q.locality, q.day, q.year, q.setting) == ("10001", None, date(2026, 3, 1), 2026, "office")
    assert "10001" not in q.codes
    assert parse(kb, "DOS 2026-06-01: 20610 and 99213 together?").day == date(2026, 6, 1)
    assert parse(kb, "As of October 2026, does 12002 bundle 12001?").day == date(2026, 10, 1)
    assert parse(kb, "the 2026 Q3 table for 71046 and 71045").day == date(2026, 7, 1)
    # given beside the question; the question's own win
    q = parse(kb, "What does 99213 pay?", day=date(2025, 11, 2), zip_code="60601")
    assert (q.day, q.zip) == (date(2025, 11, 2), "60601")
    assert parse(kb, "What does 99213 pay in 2026 in Chicago?", day=date(2025, 11, 2), zip_code="10001").zip is None


def test_kinds_of_questions_not_in_the_dev_set(kb: medcode.KnowledgeBase) -> None:
    asked = {
        "Can 20702 be billed alone?": "addon",
        "how do I choose between 20700 and 20702?": "siblings",
        "Can I code F41.1 with F32.9?": "excludes",
        "code also note for I63?": "code_first",
        "Can I bill 99214 twice on the same day?": "mue",
        "Is 36415 bundled into 99214?": "ptp",
        "NCCI 29881/29880": "ptp",
        "Are 99213 and 96372 OK together on a claim?": "claim",
        "what goes under J45?": "icd_children",
        "Is G0438 covered?": "status",
        "Price 99213 in Rest of California 2026": "payment",
        "How is sepsis sequenced?": "guidelines",
    }
    assert {q: parse(kb, q).kind for q in asked} == asked


def test_typos(kb: medcode.KnowledgeBase) -> None:
    assert parse(kb, "is E11.9 biliable").kind == "icd_billable"
    q = parse(kb, "does 20702 need modifer 51")
    assert q.kind == "modifiers" and q.modifiers == {"20702": ("51",)}
    q = parse(kb, "medicare paymnet for 99214 in manhatan ofice")
    assert (q.kind, q.locality, q.setting) == ("payment", "13202-01", "office")


def test_lay_words(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "how much does a knee injection pay?")
    assert q.kind == "payment" and q.codes == ("20610",) and q.terms == "knee injection"
    q = parse(kb, "what's the ICD-10 code for high blood pressure?")
    assert q.codes == ("I10",) and q.kind == "description"
    # a diagnosis: the code found and its header; a question about one code, asked with words
    assert parse(kb, "code for shingles?").codes == ("B02.9", "B02")
    q = parse(kb, "is shingles billable?")
    assert (q.kind, q.codes[0], q.terms) == ("icd_billable", "B02.9", "shingles")
    q = parse(kb, "what's the global period for a knee replacement?")
    assert (q.kind, q.codes) == ("global", ("27447",))
    # a named code wins over the words around it
    assert parse(kb, "how much does 20611 for a knee injection pay?").codes == ("20611",)


def test_follow_ups(kb: medcode.KnowledgeBase) -> None:
    first = parse(kb, "What does 99213 pay nationally in 2026 in the office?")
    q = parse(kb, "and in Manhattan?", first)
    assert (q.kind, q.codes, q.locality, q.year, q.setting) == ("payment", ("99213",), "13202-01", 2026, "office")
    q = parse(kb, "what about 20704?", parse(kb, "Is 20702 an add-on code?"))
    assert (q.kind, q.codes) == ("addon", ("20704",))
    q = parse(kb, "and in 2025?", first)
    assert (q.kind, q.codes, q.year) == ("payment", ("99213",), 2025)
    q = parse(kb, "facility?", first)
    assert (q.kind, q.codes, q.setting) == ("payment", ("99213",), "facility")
    # a new question with its own code and kind is not a follow-up
    q = parse(kb, "What's the global period for 27447?", first)
    assert (q.kind, q.codes, q.setting) == ("global", ("27447",), None)


def test_parse_is_fast(kb: medcode.KnowledgeBase) -> None:
    questions = [q for k, q, _ in _dev_rows() if k != "lay" and "||" not in q]
    for q in questions:
        parse(kb, q)
    started = time.perf_counter()
    for q in questions:
        parse(kb, q)
    assert (time.perf_counter() - started) / len(questions) < 0.005


def test_rules_are_data_and_loaded_strictly() -> None:
    assert {r.kind for r in rules()} <= set(KINDS)
    assert {"payment", "ptp", "icd_billable", "guidelines"} <= {r.kind for r in rules()}
    with pytest.raises(VocabularyError, match=r"kinds.tsv line 3: 2 fields"):
        parse_tsv("assistant/kinds.tsv", "# x\nkind\tcodes\tphrases\npayment\tproc\n", ("kind", "codes", "phrases"))


def test_ask_says_a_code_is_not_one(kb: medcode.KnowledgeBase) -> None:
    a = ask(kb, "Is 2070A an add-on code?")
    assert "2070A is not a code" in a.answer
    assert a.confidence == "low"
    assert a.codes and all(medcode.get_code(kb, c) for c in a.codes)  # the nearest real codes
    assert a.followups and a.conversation_id and len(a.conversation_id) == 32
    a = ask(kb, "What does M17.13 mean?")
    assert "M17.13 is not a code" in a.answer and a.confidence == "low"


def test_ask_without_an_answerer_is_honest(kb: medcode.KnowledgeBase) -> None:
    a = _answer(kb, Question("What is the meaning of life?", kind="no_such_kind"))
    assert "can't answer that yet" in a.answer and a.confidence == "low"
    a = ask(kb, "   ")
    assert a.confidence == "low" and a.conversation_id


def test_ask_keeps_the_conversation(kb: medcode.KnowledgeBase) -> None:
    first = ask(kb, "What does 99213 pay nationally in 2026?")
    assert first.conversation_id
    other = ask(kb, "What does 99213 pay nationally in 2026?")
    assert other.conversation_id != first.conversation_id
    ask(kb, "and in Manhattan?", conversation_id=first.conversation_id)
    remembered = conversation.STORE.recall(first.conversation_id)
    assert remembered is not None and remembered.codes == ("99213",) and remembered.locality == "13202-01"
    assert medcode.ask is ask


def test_conversation_store_is_bounded() -> None:
    store = conversation.Conversations(size=2, ttl=10)
    q = Question("x", kind="payment")
    store.remember("a", q, now=0)
    store.remember("b", q, now=1)
    assert store.recall("a", now=2) is q  # a is now the most recent
    store.remember("c", q, now=3)
    assert store.recall("b", now=3) is None and store.recall("a", now=3) is q
    assert store.recall("c", now=20) is None  # an hour (here 10 s) after its last question


def test_a_zip_code_in_no_locality_is_a_plain_answer(kb):
    from medcode.assistant import ask

    answer = ask(kb, "what does 99214 pay in 00000?")
    assert answer.confidence == "low"
    assert "00000" in answer.answer and "failed" not in answer.answer


def test_state_abbreviations_spaced_modifiers_and_zip_words(kb: medcode.KnowledgeBase) -> None:
    # a state's postal abbreviation after a city or "in": its one locality (Colorado, Montana), or
    # the place alone when the state has several (Georgia); a modifier written after a space
    co = parse(kb, "what does 11042 pay in Boulder, CO for 2026")
    assert (co.kind, co.place, co.locality) == ("payment", "co", "04112-01")
    mt = parse(kb, "99202 office payment Billings MT")
    assert mt.place == "mt" and mt.locality is not None and mt.locality.startswith("03202")
    ga = parse(kb, "what does 11042 pay in GA")
    assert (ga.place, ga.locality, ga.modifiers.get("11042", ())) == ("ga", None, ())
    assert parse(kb, "11042 GA modifier meaning").modifiers == {"11042": ("GA",)}  # a modifier after all
    assert parse(kb, "73221 26 national payment").modifiers == {"73221": ("26",)}
    assert parse(kb, "71046 TC in the office?").modifiers == {"71046": ("TC",)}
    assert parse(kb, "99214 25 minutes total time").modifiers == {}  # minutes, not modifier 25
    z = parse(kb, "which payment locality holds 98101")
    assert (z.kind, z.zip, z.unknown) == ("locality", "98101", ())


def test_a_few_words_with_nothing_asked_are_a_lay_name(kb: medcode.KnowledgeBase) -> None:
    for text, prefix in (("shingles dx", "B02"), ("head lice icd-10", "B85"), ("carpal tunnel syndrome code", "G56")):
        q = parse(kb, text)
        assert q.kind == "description" and q.terms and any(c.startswith(prefix) for c in q.codes), (text, q)
    # a guideline question stays one
    assert parse(kb, "How is sepsis sequenced?").kind == "guidelines"
    assert parse(kb, "what is listed first for a pre-op exam").kind == "guidelines"


def test_a_follow_up_that_names_a_place_asks_what_it_pays_there(kb: medcode.KnowledgeBase) -> None:
    first = parse(kb, "99233 facility 2026 national")
    assert first.kind == "payment"
    then = parse(kb, "and in Dallas?", first)
    assert (then.kind, then.codes, then.setting, then.year) == ("payment", ("99233",), "facility", 2026)
    assert then.locality is not None


def test_locality_keys_zips_that_are_codes_and_mac_questions(kb: medcode.KnowledgeBase) -> None:
    q = parse(kb, "GPCIs of locality 05302-02?")
    assert (q.kind, q.locality, q.zip) == ("locality", "05302-02", None)
    assert parse(kb, "is 99214-25 ok with 11042").modifiers == {"99214": ("25",)}  # a modifier, not a locality
    q = parse(kb, "77002 locality")  # a ZIP code of Houston that is also a CPT code
    assert (q.kind, q.zip, q.codes) == ("locality", "77002", ())
    assert parse(kb, "what does 77002 pay in 2026").codes == ("77002",)
    q = parse(kb, "which MAC handles zip 30301")
    assert (q.kind, q.zip) == ("locality", "30301")
    assert parse(kb, "preoperative share of 23472").kind == "global"


def test_supplies_operations_and_what_a_lay_name_is_not(kb: medcode.KnowledgeBase) -> None:
    # a supply or an operation is looked up among CPT/HCPCS codes, a condition among diagnoses
    code = parse(kb, "code for a standard wheelchair cushion").codes[0]
    assert code[0].isalpha() and code[1:].isdigit() and len(code) == 5, code  # a HCPCS code, not a diagnosis
    assert parse(kb, "tonsillectomy code").codes[0][0].isdigit()
    assert parse(kb, "seasonal allergic rhinitis code").codes[0].startswith("J30")
    # "(no ...)" says what it is not: those words are not looked up
    q = parse(kb, "allergic rhinitis due to pollen code (no asthma)")
    assert q.terms and "asthma" not in q.terms and not any(c.startswith("J45") for c in q.codes)


def test_a_procedure_code_with_a_place_or_setting_asks_what_it_pays(kb: medcode.KnowledgeBase) -> None:
    assert parse(kb, "11042 Dallas 2026 office?").kind == "payment"
    assert parse(kb, "43239 ASC setting 2025 $").kind == "payment"
    assert parse(kb, "43239 ?").kind == "description"
    assert parse(kb, "78452 + 93015 together?").kind in ("claim", "ptp")
    assert parse(kb, "97110 MUE + MAI").kind == "mue"  # one code: "+" is no claim


def test_a_case_that_asks_how_to_code_it_gets_its_guideline(kb: medcode.KnowledgeBase) -> None:
    a = ask(kb, "patient has type 2 diabetes with diabetic CKD stage 3a, which codes do I need?")
    assert any(c.family == "icd10cm_guidelines" or "guideline" in c.family for c in a.citations), a.citations
    assert "Guideline I.C." in a.answer
    short = ask(kb, "pinworms dx")
    assert "Guideline" not in short.answer


def test_a_pair_with_a_code_no_longer_valid(kb: medcode.KnowledgeBase) -> None:
    gone = next(
        c
        for (c,) in kb.query("SELECT code FROM code_presence WHERE mask = 16 AND code GLOB '[0-9][0-9][0-9][0-9][0-9]'")
    )
    a = ask(kb, f"99213 and {gone} - any current NCCI edit?")
    assert a.kind == "ptp" and "not a valid code" in a.answer and gone not in a.codes and "99213" in a.codes


def test_coder_shorthand_and_words_any_question_has(kb: medcode.KnowledgeBase) -> None:
    assert parse(kb, "natl pmt 2026 for 29881").kind == "payment"
    assert parse(kb, "asst surgeon ok for 27236?").kind == "indicators"
    assert parse(kb, "which supervision level does 74183-TC need").kind == "indicators"
    assert parse(kb, "96413 x 3 same day").kind == "claim"
    assert parse(kb, "when should Z87.891 be assigned").kind == "guidelines"
    # "with" says nothing of what is asked: a lay question with it is not about Excludes notes
    q = parse(kb, "knee walker with basket hcpcs")
    assert q.kind == "description" and q.codes and q.codes[0][0].isalpha() and "." not in q.codes[0]
    # a J code, a dose: a drug among HCPCS codes
    for text in ("ondansetron 1 mg J code", "kenalog 10 mg code"):
        q = parse(kb, text)
        assert q.codes and q.codes[0].startswith("J"), (text, q.codes)
    assert parse(kb, "cpt for a lumbar puncture").codes[0][0].isdigit()


def test_words_of_code_descriptions_are_not_corrected_and_abbreviations_are_not_states(kb) -> None:
    # "diagnostic" is a word of the code descriptions, not a typo of "diagnosis"
    assert parse(kb, "code for a diagnostic arthroscopy of the knee").codes[0][0].isdigit()
    # "MI" of a diagnosis question is no state; of a payment question it is Michigan
    assert parse(kb, "old MI and a new MI within 4 weeks, which category").place is None
    assert parse(kb, "99223 in Lansing MI 2026").place == "mi"
    assert parse(kb, "total facility RVUs for 43235").kind == "payment"
    assert parse(kb, "codes like 95816").kind == "siblings"


def test_a_question_past_the_limit_is_not_read(kb: medcode.KnowledgeBase) -> None:
    from medcode.assistant import MAX_QUESTION

    a = ask(kb, "a" * (MAX_QUESTION + 1))
    assert a.confidence == "low" and "at most" in a.answer and a.conversation_id
    assert ask(kb, "99213 " + "x" * (MAX_QUESTION - 10)).confidence != ""  # at the limit: read as usual
