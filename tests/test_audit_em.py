"""Office and outpatient E/M in the documentation audit (medcode.audit.families.em): the three elements of
medical decision making, the total time, the level each supports and the verdict, on notes written for
these tests. The codes a level or a time supports are read from vocab/em_levels.tsv and em_time.tsv
through the same functions the audit uses, not written here again."""

from __future__ import annotations

from importlib import resources

import pytest

from medcode.audit import audit
from medcode.audit.catalogue import load_text
from medcode.audit.families import Billed, Judged, em
from medcode.audit.families.em_mdm import TERMS_FILE, parse_terms
from medcode.language.note import read
from medcode.suggest.families import em_time_levels
from medcode.suggest.visits import em_level_code
from medcode.vocab import VocabularyError

FAMILY = load_text(
    "em_office.toml", resources.files("medcode.vocab").joinpath("audit/em_office.toml").read_text("utf-8")
)


def judge(text: str, code: str) -> Judged:
    return em.judge(None, read(text), Billed(code, (), None, (), None), FAMILY)


def statuses(j: Judged) -> dict[str, str]:
    return {e.id: e.status for e in j.elements}


def element(j: Judged, id: str):
    return next(e for e in j.elements if e.id == id)


STRAIGHTFORWARD = """Established patient.
CC: itchy bump on the right forearm.
HPI: Noticed a mosquito bite two days ago while gardening. Mild itching, no fever.
Exam: 3 mm papule, no surrounding redness.
Assessment: Insect bite of the right forearm, minor.
Plan: Cool compresses and reassurance. Return if spreading redness.
"""

LOW = """Established patient, seen for a sore throat.
HPI: Sore throat for three days, mild cough. Denies chest pain or shortness of breath.
Exam: Pharynx mildly red, no exudate, no nodes.
Assessment: Acute viral pharyngitis, uncomplicated.
Plan: Rapid strep test negative today. Ibuprofen 400 mg as needed for pain, fluids and rest.
"""

MODERATE = """Established patient follow-up.
HPI: Home blood pressures in the 150s. Taking lisinopril 10 mg daily. No chest pain.
Exam: BP 154/92.
Labs: A1c 7.9, BMP reviewed.
Assessment and Plan:
1. Hypertension, not at goal. Increase lisinopril to 20 mg daily.
2. Type 2 diabetes, stable. Continue metformin 500 mg twice daily. Lipid panel ordered.
Follow up in 3 months.
"""

HIGH = """Established patient.
HPI: History obtained from her daughter because the patient is too short of breath to talk.
Three days of worsening breathlessness, now at rest.
Exam: RR 30, SpO2 85% on room air, crackles to mid lung fields, leg edema.
Data: I personally reviewed the chest x-ray images: bilateral effusions. ECG shows atrial fibrillation. BNP ordered.
Assessment:
1. Acute on chronic heart failure with severe exacerbation.
Plan: Discussed with Dr. Lee, cardiology. Sent to the emergency department for admission.
"""


@pytest.mark.parametrize(
    ("text", "mdm", "elements"),
    [
        (STRAIGHTFORWARD, "straightforward", ("straightforward", "straightforward", "straightforward")),
        (LOW, "low", ("low", "straightforward", "low")),
        (MODERATE, "moderate", ("moderate", "moderate", "moderate")),
        (HIGH, "high", ("high", "high", "high")),
    ],
)
def test_each_level_of_medical_decision_making(text, mdm, elements):
    j = judge(text, "99213")
    assert j.level is not None
    assert (j.level.problems, j.level.data, j.level.risk) == elements
    assert j.level.mdm == mdm
    assert j.level.by_mdm == em_level_code("established", mdm)
    assert j.level.time_minutes is None and j.level.by_time is None
    assert j.level.supported_code == j.level.by_mdm


def test_the_words_that_decided_each_element_are_its_evidence():
    j = judge(MODERATE, "99214")
    for e in j.elements:
        for ev in e.evidence:
            assert MODERATE[ev.start : ev.end] == ev.text
    assert [ev.text for ev in element(j, "problems").evidence] == ["Hypertension, not at goal."]
    assert "Increase lisinopril" in [ev.text for ev in element(j, "risk").evidence]
    data = element(j, "data")
    assert {"A1c", "BMP", "Lipid panel"} <= {ev.text for ev in data.evidence}
    assert "3 unique test" in data.detail
    high = judge(HIGH, "99215")
    assert "independent historian" in element(high, "data").detail
    assert "independent interpretation" in element(high, "data").detail
    assert "discussion of management" in element(high, "data").detail
    assert "hospitalization" in element(high, "risk").detail


def test_mdm_is_what_two_of_three_elements_meet():
    # high problems and high risk, minimal data -> high; high problems only -> the middle element decides
    text = """Established patient.
Assessment: Suicidal ideation with a plan, a threat to life.
Plan: Sent to the emergency department for admission.
"""
    j = judge(text, "99215")
    assert (j.level.problems, j.level.risk, j.level.data) == ("high", "high", "straightforward")
    assert j.level.mdm == "high" and j.holds
    text = """Established patient.
Assessment: Suicidal ideation with a plan, a threat to life.
Plan: Safety plan reviewed. Follow up tomorrow.
"""
    j = judge(text, "99215")
    assert j.level.problems == "high" and j.level.mdm == "straightforward"
    assert not j.holds


def test_mdm_alone_supports_the_code():
    j = judge(MODERATE, "99214")
    assert j.holds and j.suggested_code is None
    assert statuses(j)["time"] == "missing"
    assert j.summary and "99214 is supported" in j.summary and "no total time" in j.summary


def test_time_alone_supports_the_code():
    text = """Established patient.
Assessment: Insect bite on the left ankle.
Plan: Reassurance. I spent 42 minutes on the date of the encounter reviewing her questions and counseling.
"""
    j = judge(text, "99215")
    thresholds = dict((code, least) for least, code in em_time_levels("established"))
    assert j.level.time_minutes == 42 >= thresholds["99215"]
    assert j.level.by_time == "99215" and j.level.by_mdm == em_level_code("established", "straightforward")
    assert j.holds and j.level.supported_code == "99215"
    time = element(j, "time")
    assert time.status == "present" and "42 minutes" in time.evidence[0].text


def test_the_time_thresholds_come_from_the_table():
    for patient in ("new", "established"):
        levels = em_time_levels(patient)
        for i, (least, code) in enumerate(levels):
            text = f"Assessment: Headache.\nPlan: Rest. Total time {least} minutes on the date of the encounter."
            lvl = em.office_level(patient, {k: em.Reading(None) for k in ("problems", "data", "risk")}, least)
            assert lvl.by_time == code
            below = em.office_level(patient, {k: em.Reading(None) for k in ("problems", "data", "risk")}, least - 1)
            assert below.by_time == (levels[i - 1][1] if i else None)
            found = em.visit_minutes(read(text))
            assert found is not None and found[0] == least


def test_upcoded_visit_is_not_supported_and_names_the_code_supported():
    j = judge(LOW, "99215")
    assert j.level.supported_code == em_level_code("established", "low")
    assert not j.holds
    assert j.suggested_code == j.level.supported_code
    assert j.summary and f"supports {j.level.supported_code}, lower than 99215" in j.summary
    assert "MDM low" in j.summary


def test_missing_time_with_weak_mdm_asks_for_the_time():
    j = judge(STRAIGHTFORWARD, "99214")
    assert not j.holds
    time = element(j, "time")
    assert time.status == "missing" and not time.evidence
    assert time.query == (
        "Please document the total time you personally spent on the date of the encounter, if you wish to code by time."
    )
    assert statuses(j)["data"] == "missing" and element(j, "data").query
    assert all(e.query is None for e in j.elements if e.status == "present")
    assert not any(e.required for e in j.elements)


def test_negated_words_are_not_problems_nor_management():
    text = """Established patient.
HPI: Here for a check. Denies chest pain, denies headaches.
Assessment: No acute distress. Denies chest pain.
Plan: No medication changes. No labs ordered today.
"""
    j = judge(text, "99213")
    s = statuses(j)
    assert s["problems"] == "negated" and s["risk"] == "negated" and s["data"] == "negated"
    assert j.level.by_mdm is None and j.level.supported_code is None
    assert not j.holds
    assert j.summary and "supports no level" in j.summary
    # the same plan with a drug continued is prescription drug management
    j = judge(text.replace("No medication changes.", "Continue atorvastatin 40 mg."), "99213")
    assert statuses(j)["risk"] == "present" and j.level.risk == "moderate"


def test_a_status_after_the_problem_is_not_a_negation_of_it():
    text = """Established patient.
Assessment: Migraine without aura, stable. Viral conjunctivitis, resolved.
Plan: Continue sumatriptan 50 mg as needed.
"""
    j = judge(text, "99213")
    assert statuses(j)["problems"] == "present"
    assert "stable chronic illness" in element(j, "problems").detail
    assert j.level.problems == "low"


def test_time_that_is_not_the_visits_does_not_count():
    for sentence in (
        "The chest pain began 30 minutes ago and lasted 45 minutes.",
        "Procedure time 40 minutes.",
        "I spent 40 minutes yesterday reviewing her outside records.",
        "Symptoms for the past 50 minutes.",
    ):
        assert em.visit_minutes(read(f"Assessment: Chest wall pain.\nPlan: {sentence}")) is None, sentence
    said = {
        "Total time 45 minutes, of which 15 minutes were spent on the knee injection, billed separately.": 30,
        "Greater than 50% of this 25 minute visit was spent counseling.": 25,
        "I spent thirty-five minutes in total on her care today.": 35,
        "Total time today: 1 hr 5 min, including counseling and documentation.": 65,
        "Total time spent on the date of service, excluding the separately billed procedure, 32 minutes.": 32,
    }
    for sentence, minutes in said.items():
        found = em.visit_minutes(read(f"Assessment: Knee osteoarthritis.\nPlan: {sentence}"))
        assert found is not None and found[0] == minutes, sentence


def test_new_and_established_patients_use_their_own_codes():
    text = "New patient visit.\n" + MODERATE.split("\n", 1)[1] + "Total time 50 minutes on the date of the encounter.\n"
    j = judge(text, "99204")
    assert j.level.by_mdm == em_level_code("new", "moderate")
    new_times = dict((code, least) for least, code in em_time_levels("new"))
    assert j.level.by_time == max((c for c, least in new_times.items() if least <= 50), key=new_times.get)
    assert j.holds
    # the note calls the patient new: an established patient's code is not supported, the new one is named
    j = judge(text, "99214")
    assert not j.holds
    assert j.suggested_code == j.level.supported_code and j.suggested_code in new_times
    assert j.summary and "calls the patient new" in j.summary


def test_99211_needs_neither_mdm_nor_time():
    j = judge("Established patient. Nurse visit for a blood pressure check. BP 128/80.", "99211")
    assert j.holds and j.level is not None and j.level.supported_code is None
    assert j.summary and "needs neither" in j.summary


def test_the_vocabulary_is_strict():
    text = resources.files("medcode.vocab").joinpath(TERMS_FILE).read_text("utf-8")
    header = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith("element\t"))
    lines = text.splitlines()
    for bad, words in (
        ("problems\tsevere\t\tsevere", "field 'kind'"),
        ("risk\thigh\t\t(unclosed", "invalid regex"),
        ("risk\thigh\t\tx?", "matches empty text"),
        ("time\ttotal\t\tspent \\d+ minutes", "needs a group"),
        ("problems\thigh\tno pattern", "fields"),
    ):
        broken = "\n".join([*lines[: header + 1], bad, *lines[header + 1 :]])
        with pytest.raises(VocabularyError) as err:
            parse_terms(broken)
        assert words in str(err.value) and f"line {header + 2}" in str(err.value), bad
    assert parse_terms(text) == em.terms()


def test_the_catalogue_names_the_rules_of_the_module():
    assert FAMILY.module == "em"
    assert {e.rule for e in FAMILY.elements} == em.RULES
    assert [e.id for e in FAMILY.elements] == ["problems", "data", "risk", "time"]
    for code in FAMILY.codes:
        assert code == "99211" or code in {
            em_level_code(p, lvl) for p in ("new", "established") for lvl in em.MDM_LEVELS
        }


def test_audit_of_an_office_visit_through_the_public_api(kb):
    answer = audit(kb, MODERATE, ["99215", "99214-25"])
    upcoded, right = answer.codes
    assert upcoded.family == "em_office" and not upcoded.supported
    assert upcoded.suggested_code == "99214" and upcoded.level is not None
    assert right.supported and right.modifiers == ("25",) and right.suggested_code is None
    js = right.as_json()
    assert js["level"]["mdm"] == "moderate" and js["level"]["supported_code"] == "99214"
    assert [e["id"] for e in js["elements"]] == ["problems", "data", "risk", "time"]
    assert js["elements"][3]["status"] == "missing" and js["elements"][3]["query"]


def test_precautions_and_past_events_are_not_decisions():
    precautions = (
        "Assessment: Chest wall pain.\nPlan: Ibuprofen 400 mg as needed. Go to the emergency room if the pain worsens."
    )
    j = judge(precautions, "99214")
    assert j.level.risk == "low" and "over-the-counter" in element(j, "risk").detail
    past = "Established patient. She was admitted to the hospital last year for pneumonia. Knee pain, chronic, stable."
    assert judge(past, "99214").level.risk == "straightforward"
    decided = (
        "Assessment: Abdominal pain, concerning for appendicitis.\nPlan: Sent to the ED for CT and surgical evaluation."
    )
    j = judge(decided, "99214")
    assert j.level.risk == "high" and "hospitalization" in element(j, "risk").detail


def test_other_ways_of_writing_the_time_and_the_historian():
    for sentence, minutes in {
        "Time: 25 minutes.": 25,
        "Face-to-face time 22 minutes.": 22,
        "More than half of the 40 minute visit was counseling.": 40,
    }.items():
        found = em.visit_minutes(read(f"Plan: Rest. {sentence}"))
        assert found is not None and found[0] == minutes, sentence
    text = "New patient.\nHPI: Mom reports ear pain since last night and fever.\nAssessment: Acute otitis media."
    j = judge(text, "99203")
    assert j.level.data == "low" and "independent historian" in element(j, "data").detail


def test_a_plan_without_an_assessment_counts_the_problems_it_names():
    named = (
        "Established patient.\nPlan:\n1. HTN, stable - continue lisinopril 10 mg.\n"
        "2. GERD, stable - continue omeprazole."
    )
    j = judge(named, "99214")
    assert j.level.problems == "moderate" and j.level.risk == "moderate" and j.holds
    unnamed = "Established patient.\nCC: sore throat.\nPlan: Ibuprofen as needed and rest."
    j = judge(unnamed, "99213")
    assert [e.text for e in element(j, "problems").evidence] == ["sore throat."]
