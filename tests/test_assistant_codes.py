"""CasePilot's CPT/HCPCS answerers (assistant.answers_codes and the modules it merges), on the real
knowledge base: questions of our own, built as Question objects, and the development set's rows of
these kinds (bench/ask_dev.tsv), each with its Question written out here so that the check does not
depend on the question parser. The expected facts are read from the same lookups the code page uses,
never written down as answers."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from medcode.assistant.answers_codes import ANSWERS
from medcode.assistant.answers_facts import CODE_LIKE
from medcode.assistant.model import Answer, Question
from medcode.kb.models import ProcedureCode
from medcode.lookup import get_code, ptp_between
from medcode.pricing import price

KINDS = "description status payment global indicators addon ptp mue siblings modifiers claim stale_date".split()
DEV_FILE = Path(__file__).parent.parent / "bench" / "ask_dev.tsv"


def ask(kb, kind: str, text: str, codes: tuple[str, ...], **kw) -> Answer:
    return ANSWERS[kind](kb, Question(text=text, kind=kind, codes=codes, **kw))


def assert_grounded(a: Answer) -> None:
    """Every code-like string of the text is among the answer's codes; citations and followups given."""
    for c in CODE_LIKE.findall(a.answer):
        assert c in a.codes, (c, a.answer)
    assert a.confidence in ("high", "medium", "low")
    if a.confidence != "low":
        assert a.citations, a.answer
        assert 2 <= len(a.followups) <= 3


def page(kb, code: str) -> ProcedureCode:
    p = get_code(kb, code)
    assert isinstance(p, ProcedureCode)
    return p


def test_every_kind_has_an_answerer() -> None:
    assert set(KINDS) <= set(ANSWERS)


def test_addon_billed_alone_lists_primaries_from_the_addon_file(kb) -> None:
    a = ask(kb, "addon", "Can 20702 be billed alone?", ("20702",))
    p = page(kb, "20702")
    assert p.addon is not None
    assert "add-on" in a.answer and "cannot be billed alone" in a.answer
    assert f"Primary codes ({len(p.addon.primary_codes)})" in a.answer
    assert set(p.addon.primary_codes[:5]) <= set(a.codes)
    assert any(c.family == "aoc" and c.row == "20702" and c.link == "/codes/20702#facts" for c in a.citations)
    assert_grounded(a)


def test_addon_code_is_exempt_from_51(kb) -> None:
    a = ask(kb, "modifiers", "Does 20702 need modifier 51?", ("20702",), modifiers={"20702": ("51",)})
    assert a.answer.startswith("No: modifier 51 on 20702")
    assert "add-on" in a.answer
    assert any(c.link == "/codes/20702#modifiers" for c in a.citations)
    assert_grounded(a)


def test_siblings_give_the_family_rule(kb) -> None:
    from medcode import vocab

    a = ask(kb, "siblings", "20700 vs 20702 vs 20704?", ("20700", "20702", "20704"))
    members, rule = vocab.code_families()["drug_delivery_insertion"]
    assert rule in a.answer
    assert set(members) <= set(a.codes)
    assert a.answer.count("Neighbouring codes of") <= 3
    assert_grounded(a)


@pytest.mark.parametrize(
    ("setting", "shown", "hidden"),
    [
        (None, ("non-facility", "facility"), ()),
        ("office", ("non-facility",), ("$57",)),
        ("facility", ("facility",), ()),
    ],
    ids=["both-settings", "office", "facility"],
)
def test_national_payment_is_the_code_page_amount(kb, setting, shown, hidden) -> None:
    p = page(kb, "99213")
    assert p.payment is not None and p.payment.nonfacility is not None and p.payment.facility is not None
    a = ask(kb, "payment", "What does 99213 pay?", ("99213",), setting=setting)
    if setting != "facility":
        assert f"${p.payment.nonfacility:,.2f}" in a.answer
    if setting != "office":
        assert f"${p.payment.facility:,.2f}" in a.answer
    for word in shown:
        assert word in a.answer
    assert p.release in a.answer
    assert a.citations[0].family == "pprrvu" and a.citations[0].link == "/codes/99213#payment"
    assert_grounded(a)


def test_payment_by_locality_is_what_pricing_says(kb) -> None:
    a = ask(kb, "payment", "What does 99214 pay in Manhattan?", ("99214",), locality="13202-01", place="Manhattan")
    p = price(kb, "99214", locality="13202-01")
    assert f"${p.nonfacility:,.2f}" in a.answer and f"${p.facility:,.2f}" in a.answer
    assert "Manhattan" in a.answer
    assert any(c.family == "gpci" and c.row == "13202-01" for c in a.citations)
    # every dollar figure is a code page or pricing amount
    page_ = page(kb, "99214")
    known = {p.nonfacility, p.facility, page_.payment.nonfacility, page_.payment.facility}  # type: ignore[union-attr]
    prev = page_.previous_year
    if prev is not None:
        known |= {prev.payment.nonfacility, prev.payment.facility}
    for figure in re.findall(r"\$([\d,]+\.\d\d)", a.answer):
        assert float(figure.replace(",", "")) in known, figure
    assert_grounded(a)


def test_payment_for_a_year_with_no_fee_schedule_is_low_confidence(kb) -> None:
    a = ask(kb, "payment", "What will 99213 pay in 2027?", ("99213",), year=2027)
    assert a.confidence == "low"
    assert "No physician fee schedule for 2027" in a.answer and "2026" in a.answer


def test_modifier_26_payment_uses_the_26_row(kb) -> None:
    a = ask(kb, "payment", "71046-26 national", ("71046",), modifiers={"71046": ("26",)})
    row = next(m for m in page(kb, "71046").modifiers if m.modifier == "26")
    assert a.answer.startswith("71046-26")
    assert f"${row.payment.nonfacility:,.2f}" in a.answer


def test_ptp_pair_names_column_1_and_the_indicator(kb) -> None:
    a = ask(kb, "ptp", "Can 45380 and 45378 be billed together?", ("45378", "45380"))
    (edit,) = ptp_between(kb, ["45378", "45380"])
    assert f"{edit.column_1} is column 1 and {edit.column_2} is column 2" in a.answer
    assert f"modifier indicator {edit.modifier}" in a.answer
    assert a.citations[0].row == f"{edit.column_1}/{edit.column_2}"
    assert a.citations[0].link == f"/codes/{edit.column_1}#ncci"
    assert a.confidence == "high"
    assert_grounded(a)


def test_ptp_on_a_date_after_the_table_says_so(kb) -> None:
    a = ask(kb, "ptp", "45378 and 45380 in 2026?", ("45378", "45380"), day=date(2026, 3, 10), year=2026)
    assert a.confidence == "medium"
    assert "older than the date asked (2026-03-10)" in a.answer and "2024" in a.answer


def test_ptp_with_no_edit_says_so(kb) -> None:
    a = ask(kb, "ptp", "64483 and 64484?", ("64483", "64484"))
    assert not ptp_between(kb, ["64483", "64484"])
    assert "no active NCCI PTP edit" in a.answer


@pytest.mark.parametrize(
    ("text", "codes", "modifiers", "said"),
    [
        ("Claim: 20702 alone", ("20702",), {}, "without an eligible primary code"),
        ("Claim: 20610 x 3 units", ("20610",), {}, "the MUE is 2"),
        ("45378 and 45380 on one claim", ("45378", "45380"), {}, "45378 is denied"),
        ("99214-25 and 20610", ("99214", "20610"), {"99214": ("25",)}, "modifier 25 bypasses the edit"),
        ("20700 and 20702", ("20700", "20702"), {}, "describe the same service"),
    ],
    ids=["addon-alone", "units-over-mue", "ptp-indicator-0", "ptp-bypassed", "siblings"],
)
def test_claim_says_what_the_checker_says(kb, text, codes, modifiers, said) -> None:
    a = ask(kb, "claim", text, codes, modifiers=modifiers)
    assert said in a.answer
    assert "diagnosis" not in a.answer.lower()  # a made-up claim has none: those findings are left out
    assert "no date of service" not in a.answer
    assert_grounded(a)


def test_clean_claim_says_no_edit(kb) -> None:
    a = ask(kb, "claim", "Claim: 11042 and 11045 x 2", ("11042", "11045"))
    assert "no NCCI PTP edit" in a.answer


def test_not_a_code_is_low_confidence(kb) -> None:
    for kind in KINDS:
        a = ask(kb, kind, "what about 2070A?", ("2070A",))
        assert a.confidence == "low", (kind, a.answer)


def test_description_of_hcpcs_and_icd(kb) -> None:
    a = ask(kb, "description", "What are G0439 and E11.65?", ("G0439", "E11.65"))
    icd = get_code(kb, "E11.65")
    assert icd.description in a.answer
    assert "G0439 (HCPCS)" in a.answer
    assert_grounded(a)


def test_mue_units_and_kind_of_edit(kb) -> None:
    a = ask(kb, "mue", "MUE for 20610?", ("20610",))
    m = page(kb, "20610").mue
    assert m is not None
    per = "line" if m.mai == "1" else "date of service"
    assert f"is {m.units} unit{'s' if m.units != 1 else ''} per {per}" in a.answer
    assert a.citations[0].family == "mue_practitioner"


def test_status_names_the_code_and_its_meaning(kb) -> None:
    a = ask(kb, "status", "status of 99417", ("99417",))
    s = page(kb, "99417").status
    assert s is not None and f"status {s.code}" in a.answer and (s.meaning or "") in a.answer


def test_several_codes_are_answered_each(kb) -> None:
    a = ask(kb, "mue", "MUE for 20610 and 20611?", ("20610", "20611"))
    for code in ("20610", "20611"):
        m = page(kb, code).mue
        assert m is not None and f"The MUE for {code} is {m.units} unit" in a.answer
    assert {c.row for c in a.citations} == {"20610", "20611"}


def test_addon_subject_is_the_addon_code_named(kb) -> None:
    a = ask(kb, "addon", "Can 99215 take 99417?", ("99215", "99417"))
    assert a.answer.startswith("Yes: 99215 is among the primary codes of 99417")


def test_data_older_than_the_date_asked_is_medium(kb) -> None:
    a = ask(kb, "mue", "MUE for 20610 in 2027?", ("20610",), year=2027)
    assert a.confidence == "medium"
    assert "older than the date asked (2027)" in a.answer


def test_ptp_with_a_diagnosis_code_says_it_is_no_procedure_code(kb) -> None:
    a = ask(kb, "ptp", "99213 and E11.9 and 20610?", ("99213", "E11.9", "20610"))
    assert "E11.9 is not a CPT or HCPCS code" in a.answer
    assert a.confidence == "low"
    assert_grounded(a)


def test_codes_read_from_lay_words_are_medium_at_most(kb) -> None:
    a = ask(kb, "payment", "how much does a knee injection pay?", ("20610",), terms="knee injection")
    assert a.confidence == "medium"
    assert "20610" in a.answer


def test_a_diagnosis_code_in_a_procedure_question(kb) -> None:
    a = ask(kb, "mue", "MUE for E11.9?", ("E11.9",))
    assert a.confidence == "low"
    assert a.answer.startswith("E11.9 is an ICD-10-CM code")
    assert_grounded(a)


def _dev_expect() -> dict[str, str]:
    out = {}
    for line in DEV_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, question, expect, _ = line.split("\t")
        if kind in KINDS:
            out[question] = expect
    return out


def _failures(a: Answer, expect: str) -> list[str]:
    text = a.answer.lower()
    flat = text.replace(",", "")
    codes = {c.replace(".", "").upper() for c in a.codes}
    bad = []
    for part in expect.split(";"):
        name, _, value = part.strip().partition(":")
        if name == "code" and value.replace(".", "").upper() not in codes:
            bad.append(f"code {value}")
        elif name == "text" and value.lower() not in text:
            bad.append(f"text {value}")
        elif name == "number" and not re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", flat):
            bad.append(f"number {value}")
        elif name == "confidence" and a.confidence != value:
            bad.append(f"confidence {a.confidence}")
    return bad


# Rows whose fact no lookup the code page uses gives (the answer says so instead): none left.
GAPS: dict[str, str] = {}

DEV = [
    ("description", "What is HCPCS code G0439?", ("G0439",), dict()),
    ("description", "what does J3301 describe", ("J3301",), dict()),
    ("description", "Describe A4253 for me", ("A4253",), dict()),
    ("description", "What's E0601?", ("E0601",), dict()),
    ("description", "What is K0001?", ("K0001",), dict()),
    ("description", "what drug and dose unit is J0696", ("J0696",), dict()),
    ("description", "define ICD-10-CM E11.65", ("E11.65",), dict()),
    ("description", "What is J44.1?", ("J44.1",), dict()),
    ("description", "what's G47.33 in ICD-10", ("G47.33",), dict()),
    ("description", "What does Z23 mean?", ("Z23",), dict()),
    ("description", "tell me what M25.561 stands for", ("M25.561",), dict()),
    ("status", "What's the fee schedule status of 99417 for Medicare?", ("99417",), dict()),
    ("status", "Is 36415 paid under the Medicare physician fee schedule?", ("36415",), dict()),
    ("status", "Does Medicare cover 99385?", ("99385",), dict()),
    ("status", "PFS status indicator for A4253?", ("A4253",), dict()),
    ("status", "what status does J1100 have on the 2026 physician fee schedule", ("J1100",), dict(year=2026)),
    ("status", "Does 1036F pay anything under the PFS?", ("1036F",), dict()),
    ("status", "Is 11055 covered by Medicare Part B?", ("11055",), dict()),
    ("status", "What does the status code on 36000 mean?", ("36000",), dict()),
    ("status", "Who prices 0054T, CMS or the contractor?", ("0054T",), dict()),
    ("status", "What status code does 96523 carry and what does it mean?", ("96523",), dict()),
    ("status", "Is 99214 an active code on the 2026 fee schedule?", ("99214",), dict(year=2026)),
    ("status", "status of 00100 on the PFS", ("00100",), dict()),
    (
        "payment",
        "What's the 2026 national non-facility payment for 99214?",
        ("99214",),
        dict(year=2026, setting="office"),
    ),
    (
        "payment",
        "How much does Medicare pay nationally for 20610 in an office setting in 2026?",
        ("20610",),
        dict(year=2026, setting="office"),
    ),
    ("payment", "national Medicare allowable for 93000 in 2026", ("93000",), dict(year=2026)),
    (
        "payment",
        "What does 17110 pay in the office, national rate, 2026?",
        ("17110",),
        dict(year=2026, setting="office"),
    ),
    (
        "payment",
        "2026 national facility rate for the surgeon on 27447?",
        ("27447",),
        dict(year=2026, setting="facility"),
    ),
    (
        "payment",
        "What's the 2026 facility payment for 66984, national?",
        ("66984",),
        dict(year=2026, setting="facility"),
    ),
    (
        "payment",
        "National facility fee schedule amount for 45380 in 2026?",
        ("45380",),
        dict(year=2026, setting="facility"),
    ),
    (
        "payment",
        "What does 99214 pay in Chicago in 2026 (non-facility)?",
        ("99214",),
        dict(year=2026, locality="06102-16", place="Chicago", setting="office"),
    ),
    (
        "payment",
        "2026 office payment for 99203 in San Francisco?",
        ("99203",),
        dict(year=2026, locality="01112-05", place="San Francisco", setting="office"),
    ),
    (
        "payment",
        "How much is 20610 in Houston, office, 2026?",
        ("20610",),
        dict(year=2026, locality="04412-18", place="Houston", setting="office"),
    ),
    (
        "payment",
        "What does 99215 pay in Metropolitan Boston in 2026 in the office?",
        ("99215",),
        dict(year=2026, locality="14212-01", place="Metropolitan Boston", setting="office"),
    ),
    (
        "payment",
        "Seattle 2026 non-facility payment for 97110?",
        ("97110",),
        dict(year=2026, locality="02402-02", place="Seattle", setting="office"),
    ),
    (
        "payment",
        "What's the 2026 facility payment for 27447 in Los Angeles?",
        ("27447",),
        dict(year=2026, locality="01182-18", place="Los Angeles", setting="facility"),
    ),
    (
        "payment",
        "How much is the professional component (-26) of 73721 in Manhattan in 2026?",
        ("73721",),
        dict(modifiers={"73721": ("26",)}, year=2026, locality="13202-01", place="Manhattan"),
    ),
    (
        "payment",
        "national 2026 payment for 71046 with modifier 26",
        ("71046",),
        dict(modifiers={"71046": ("26",)}, year=2026),
    ),
    ("payment", "What did 99213 pay nationally in the office in 2025?", ("99213",), dict(year=2025, setting="office")),
    (
        "payment",
        "What did 99214 pay in Manhattan in 2025, non-facility?",
        ("99214",),
        dict(year=2025, locality="13202-01", place="Manhattan", setting="office"),
    ),
    ("payment", "2025 national facility rate for 45378?", ("45378",), dict(year=2025, setting="facility")),
    ("payment", "What's the 2026 work RVU for 27130?", ("27130",), dict(year=2026)),
    ("payment", "total non-facility RVUs for 99204 in 2026?", ("99204",), dict(year=2026, setting="office")),
    (
        "payment",
        "How much did the national office payment for 99213 change from 2025 to 2026?",
        ("99213",),
        dict(year=2025, setting="office"),
    ),
    ("global", "What's the global period for 27447?", ("27447",), dict()),
    ("global", "global days for 20610", ("20610",), dict()),
    ("global", "How many postoperative days does 17110 have?", ("17110",), dict()),
    ("global", "Does 10060 have a 10-day global?", ("10060",), dict()),
    ("global", "What's the global surgery indicator on 59400?", ("59400",), dict()),
    ("global", "Is there a global period on 99213?", ("99213",), dict()),
    ("global", "What global does 11045 have?", ("11045",), dict()),
    ("global", "global period for 29881?", ("29881",), dict()),
    ("global", "Does 45378 carry a post-op period?", ("45378",), dict()),
    ("global", "Global days for 64721?", ("64721",), dict()),
    ("global", "What percent of the 27447 global package is pre-op, intra-op and post-op?", ("27447",), dict()),
    ("indicators", "What's the bilateral indicator for 20610 and what does it mean for payment?", ("20610",), dict()),
    ("indicators", "bilateral surgery indicator on 77067?", ("77067",), dict()),
    ("indicators", "What's the endoscopic base code for 45380?", ("45380",), dict()),
    ("indicators", "Which endoscopy family base does 43239 belong to?", ("43239",), dict()),
    ("indicators", "Can an assistant surgeon be paid on 27447?", ("27447",), dict()),
    ("indicators", "Is an assistant at surgery payable for 17110?", ("17110",), dict()),
    ("indicators", "co-surgeon indicator for 27447?", ("27447",), dict()),
    ("indicators", "What's the PC/TC indicator for 71046?", ("71046",), dict()),
    ("indicators", "What does the PC/TC indicator on 93010 say?", ("93010",), dict()),
    ("indicators", "PC/TC indicator for 93005?", ("93005",), dict()),
    ("indicators", "What multiple procedure indicator does 97110 have?", ("97110",), dict()),
    ("indicators", "What supervision level does 93000 require?", ("93000",), dict()),
    ("indicators", "Can 29881 be paid at the non-facility (office) rate?", ("29881",), dict(setting="office")),
    ("addon", "Is 11045 an add-on code, and what's its primary?", ("11045",), dict()),
    ("addon", "What primary code goes with 64484?", ("64484",), dict()),
    ("addon", "Which code must 99292 be billed with?", ("99292",), dict()),
    ("addon", "primary for add-on 15272?", ("15272",), dict()),
    ("addon", "What does 96415 need as its primary service?", ("96415",), dict()),
    ("addon", "Which primaries are allowed for 22614?", ("22614",), dict()),
    ("addon", "11103 is an add-on to what?", ("11103",), dict()),
    ("addon", "Which E/M codes can G2211 be added to?", ("G2211",), dict()),
    ("addon", "What's the primary for 99498?", ("99498",), dict()),
    ("addon", "Is 99417 an add-on to 99215 in the NCCI add-on table?", ("99417", "99215"), dict()),
    ("addon", "What primary codes are listed for the add-on 0054T?", ("0054T",), dict()),
    ("mue", "What's the MUE for 20610?", ("20610",), dict()),
    ("mue", "max units per day for 11045?", ("11045",), dict()),
    ("mue", "MUE value for 99213", ("99213",), dict()),
    ("mue", "How many units of J1100 can be billed per day before hitting the MUE?", ("J1100",), dict()),
    ("mue", "What is the MUE and adjudication indicator for 64483?", ("64483",), dict()),
    ("mue", "MUE for 96372?", ("96372",), dict()),
    ("mue", "How many units of 97110 per date of service does the MUE allow?", ("97110",), dict()),
    ("mue", "What's the medically unlikely edit for A0425, and is it per line or per day?", ("A0425",), dict()),
    ("mue", "MUE for 22614", ("22614",), dict()),
    ("mue", "How many units of 88305 pass the MUE?", ("88305",), dict()),
    ("mue", "What's the MUE on 27447 and its MAI?", ("27447",), dict()),
    ("siblings", "What are the other codes in the same family as 99213?", ("99213",), dict()),
    ("siblings", "What are the sibling codes of 99203 for new patients?", ("99203",), dict()),
    ("siblings", "Which code is the removal that pairs with the 20704 insertion?", ("20704",), dict()),
    (
        "siblings",
        "What's the removal-only code that goes with 11981, and the remove-and-reinsert code?",
        ("11981",),
        dict(),
    ),
    (
        "siblings",
        "What are the with-ultrasound versions of the joint injection codes 20600, 20605 and 20610?",
        ("20600", "20605", "20610"),
        dict(),
    ),
    ("siblings", "What are the cervical/thoracic equivalents of 64483 and 64484?", ("64483", "64484"), dict()),
    ("siblings", "Which colonoscopy codes share 45378 as their endoscopic base?", ("45378",), dict()),
    ("siblings", "What's the companion code to G0439 for the first annual wellness visit?", ("G0439",), dict()),
    ("siblings", "critical care: what codes go with 99291?", ("99291",), dict()),
    ("modifiers", "Can I bill 71046 with modifier 26?", ("71046",), dict(modifiers={"71046": ("26",)})),
    ("modifiers", "Is modifier 26 allowed on 99213?", ("99213",), dict(modifiers={"99213": ("26",)})),
    ("modifiers", "Can 93000 be billed with TC?", ("93000",), dict(modifiers={"93000": ("TC",)})),
    ("modifiers", "Can I put modifier 50 on 20610?", ("20610",), dict(modifiers={"20610": ("50",)})),
    (
        "modifiers",
        "Is modifier 80 (assistant surgeon) payable with 27130?",
        ("27130",),
        dict(modifiers={"27130": ("80",)}),
    ),
    ("modifiers", "Can two surgeons bill 47562 with modifier 62?", ("47562",), dict(modifiers={"47562": ("62",)})),
    (
        "modifiers",
        "Should 11045 get modifier 51 when billed with 11042?",
        ("11045", "11042"),
        dict(modifiers={"11045": ("51",)}),
    ),
    ("modifiers", "Which modifiers can bypass an NCCI PTP edit with modifier indicator 1?", (), dict()),
    ("modifiers", "Does modifier 22 get around a PTP edit?", (), dict()),
    ("modifiers", "What does modifier XS mean?", (), dict()),
    ("modifiers", "What is the JZ modifier?", (), dict()),
    ("ptp", "Can 20611 and 20610 be reported together on the same day?", ("20611", "20610"), dict()),
    ("ptp", "Is there an NCCI edit between 20610 and 76942?", ("20610", "76942"), dict()),
    ("ptp", "93000 with 93010 same date: NCCI edit?", ("93000", "93010"), dict()),
    ("ptp", "PTP edit for 71046 and 71045?", ("71046", "71045"), dict()),
    ("ptp", "Can 29881 be billed with 29880?", ("29881", "29880"), dict()),
    ("ptp", "43239 and 43235 together: allowed?", ("43239", "43235"), dict()),
    ("ptp", "Can I bill 45385 and 45380 on the same colonoscopy with a modifier?", ("45385", "45380"), dict()),
    ("ptp", "NCCI: 12001 billed with 12002?", ("12001", "12002"), dict()),
    ("ptp", "Can 20552 and 20553 go together?", ("20552", "20553"), dict()),
    ("ptp", "Is 96372 bundled with 99213?", ("96372", "99213"), dict()),
    ("ptp", "Can G0439 and 99214 be billed the same day?", ("G0439", "99214"), dict()),
    ("ptp", "Practitioner claim: can 90837 and 99214 be billed together?", ("90837", "99214"), dict()),
    ("ptp", "For an outpatient hospital claim, is the 90837/99214 edit bypassable?", ("90837", "99214"), dict()),
    ("ptp", "Is there a current PTP edit between 97140 and 97530?", ("97140", "97530"), dict()),
    ("ptp", "Any NCCI pair edit for 64483 and 64484?", ("64483", "64484"), dict()),
    ("ptp", "Does 66984 bundle 67028?", ("66984", "67028"), dict()),
    ("ptp", "Can 45378 be billed with G0121?", ("45378", "G0121"), dict()),
    ("ptp", "27447 and 20610 on the same knee the same day?", ("27447", "20610"), dict()),
    ("claim", "Check this claim: 12001, 12002", ("12001", "12002"), dict()),
    ("claim", "claim check: 43239 + 43235", ("43239", "43235"), dict()),
    ("claim", "Is this combination OK: 20611 and 76942?", ("20611", "76942"), dict()),
    ("claim", "Claim: 99214-25 and 20610. Any problem?", ("99214", "20610"), dict(modifiers={"99214": ("25",)})),
    ("claim", "Would 45385 + 45380-59 pass NCCI?", ("45385", "45380"), dict(modifiers={"45380": ("59",)})),
    ("claim", "Claim review: 96413, 96372", ("96413", "96372"), dict()),
    ("claim", "Claim: 97110 x 2 units and 97140 x 1 unit, anything flagged?", ("97110", "97140"), dict()),
    ("claim", "Claim has 11045 but no other procedure. OK?", ("11045",), dict()),
    ("claim", "Claim: 64484 alone, no other codes", ("64484",), dict()),
    ("claim", "Claim: 20610 x 3 units on one day", ("20610",), dict()),
    ("claim", "Claim: 64483 x 1 and 64484 x 5", ("64483", "64484"), dict()),
    ("claim", "Claim: 99291 x 1, 99292 x 10", ("99291", "99292"), dict()),
    ("claim", "Claim: 11042 and 11045 x 2", ("11042", "11045"), dict()),
    (
        "stale_date",
        "For a date of service of 2026-03-10, can 29880 and 29881 be billed together?",
        ("29880", "29881"),
        dict(day=date(2026, 3, 10), year=2026),
    ),
    ("stale_date", "In 2026, is 45385 with 45380 still an NCCI pair?", ("45385", "45380"), dict(year=2026)),
    (
        "stale_date",
        "DOS 2026-06-01: is there a practitioner PTP edit between 20610 and 99213?",
        ("20610", "99213"),
        dict(day=date(2026, 6, 1), year=2026),
    ),
    (
        "stale_date",
        "As of October 2026, does 12002 bundle 12001?",
        ("12002", "12001"),
        dict(day=date(2026, 10, 1), year=2026),
    ),
    ("stale_date", "2026 claim: can 43239 and 43235 be billed together?", ("43239", "43235"), dict(year=2026)),
    (
        "stale_date",
        "For a November 2026 visit, is 96372 bundled into 99213?",
        ("96372", "99213"),
        dict(day=date(2026, 11, 1), year=2026),
    ),
    (
        "stale_date",
        "Does the 2026 Q3 practitioner PTP table have an edit for 71046 and 71045?",
        ("71046", "71045"),
        dict(year=2026),
    ),
    (
        "stale_date",
        "DOS 2026-12-01: G0439 and 99214 together?",
        ("G0439", "99214"),
        dict(day=date(2026, 12, 1), year=2026),
    ),
    ("stale_date", "What will 99213 pay in 2027?", ("99213",), dict(year=2027)),
    ("stale_date", "What's the 2027 national rate for 20610?", ("20610",), dict(year=2027)),
]


def test_dev_rows_are_those_of_the_dev_set() -> None:
    """Every row here is a row of bench/ask_dev.tsv (rows added there later are checked by the bench)."""
    assert {q for _, q, _, _ in DEV} <= set(_dev_expect())
    assert len(DEV) >= 150


@pytest.mark.parametrize(
    ("kind", "text", "codes", "kw"),
    [
        pytest.param(*row, marks=[pytest.mark.xfail(strict=True, reason=GAPS[row[1]])] if row[1] in GAPS else [])
        for row in DEV
    ],
    ids=[f"{row[0]}-{i}" for i, row in enumerate(DEV)],
)
def test_dev_row(kb, kind, text, codes, kw) -> None:
    a = ask(kb, kind, text, codes, **kw)
    assert not _failures(a, _dev_expect()[text]), a.answer
    assert_grounded(a)
