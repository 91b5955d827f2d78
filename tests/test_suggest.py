"""Case2Code (medcode.suggest): procedure rules, coding rules, order, the JSON contract, the US notes.

Notes here are short ones of our own; tests/data/notes/ (with gold.tsv) are the bench notes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medcode import suggest
from medcode.language import coding
from medcode.language.context import Context
from medcode.suggest import Evidence, Suggested, Suggestion
from medcode.vocab.tsv import read

NOTES = Path(__file__).parent / "data" / "notes"

PROCEDURE_CASES = [
    (
        "knee-injection-no-imaging",
        "PROCEDURE: The left knee joint was injected with 80 mg Depo-Medrol using landmarks, no imaging.",
        [("20610", ("LT",)), ("J1040", ())],
    ),
    (
        "shoulder-injection-ultrasound",
        "Procedure: Right glenohumeral joint injection under ultrasound guidance; 40 mg Kenalog injected.",
        [("20611", ("RT",)), ("J3301", ())],
    ),
    (
        "both-elbows-aspirated",
        "PROCEDURE: Both olecranon bursae were aspirated, bilateral, without imaging. Fluid sent for culture.",
        [("20605", ("50",))],
    ),
    (
        "index-finger-joint",
        "PROCEDURE: The right index finger PIP joint was injected with 5 mg triamcinolone; no ultrasound used.",
        [("20600", ("F6",)), ("J3301", ())],
    ),
    (
        "colonoscopy-hot-biopsy",
        "PROCEDURE: Colonoscopy.\nFINDINGS: Two 3 mm polyps in the cecum were removed with hot biopsy forceps.",
        [("45384", ())],
    ),
    (
        "colonoscopy-diagnostic",
        "INDICATIONS: Iron deficiency anemia.\nPROCEDURE: Colonoscopy to the cecum.\nFINDINGS: Normal colon. "
        "No polyps. No biopsies taken.",
        [("45378", ())],
    ),
    (
        "colonoscopy-screening-family-history",
        "INDICATIONS: Screening; family history of colon cancer in her brother.\nPROCEDURE: Colonoscopy.\n"
        "FINDINGS: Normal colon, no polyps.",
        [("G0105", ())],
    ),
    (
        "egd-balloon-dilation",
        "PROCEDURE: EGD.\nFINDINGS: Distal esophageal stricture, balloon dilation to 18 mm performed.",
        [("43249", ())],
    ),
    (
        "egd-band-ligation",
        "PROCEDURE: Upper endoscopy.\nFINDINGS: Large esophageal varices; band ligation with 4 bands.",
        [("43244", ())],
    ),
    (
        "two-limb-lacerations-summed",
        "Procedure: Simple repair of a 4 cm laceration of the left forearm and a 5 cm laceration of the right "
        "thigh with nylon sutures, single layer.",
        [("12004", ())],
    ),
    (
        "face-layered-closure",
        "Procedure: Laceration of the chin 2 cm, layered closure with deep sutures and 6-0 nylon.",
        [("12051", ())],
    ),
    (
        "complex-trunk-with-addon",
        "Procedure: Complex repair of a 10 cm laceration of the back with extensive undermining, sutured.",
        [("13101", ()), ("13102", ())],
    ),
    (
        "adhesive-only",
        "Procedure: 1.5 cm laceration of the forehead closed with Dermabond tissue adhesive only.",
        [("G0168", ())],
    ),
    (
        "benign-excision-trunk",
        "PROCEDURE: Excision of a benign lesion of the back, 1.0 cm lesion with 2 mm margins; simple closure.",
        [("11402", ())],
    ),
    (
        "malignant-excision-with-layered-repair",
        "PROCEDURE: Excision of malignant lesion of the right hand, excised diameter 2.5 cm. The wound was closed "
        "in two layers, layered closure, repair length 4 cm.",
        [("11623", ()), ("12042", ())],
    ),
    (
        "deep-antibiotic-beads",
        "PROCEDURE: Antibiotic beads mixed by hand from cement and tobramycin were placed beneath the fascia of "
        "the thigh.",
        [("20700", ())],
    ),
    (
        "spacer-removal",
        "PROCEDURE: Removal of an intra-articular antibiotic cement spacer from the right knee joint.",
        [("20705", ())],
    ),
    (
        "new-patient-by-time",
        "New patient. Chief complaint: rash. I spent 31 minutes in total on the date of the visit.",
        [("99203", ())],
    ),
    (
        "established-by-time",
        "Established patient returns for follow-up. Total time 41 minutes on the date of service.",
        [("99215", ())],
    ),
    (
        "visit-with-injection",
        "Established patient with left knee osteoarthritis. The left knee was injected without ultrasound. "
        "Total time for the visit apart from the procedure 22 minutes.",
        [("99213", ("25",)), ("20610", ("LT",))],
    ),
    ("ed-by-mdm", "EMERGENCY DEPARTMENT NOTE\nSprained wrist.\nMDM: moderate.", [("99284", ())]),
    (
        "preventive-adult",
        "Annual physical. 30-year-old established patient, no complaints. Exam normal.",
        [("99395", ())],
    ),
    (
        "im-drug",
        "Established patient with renal colic. Ketorolac 60 mg IM given in the office. Total time 15 minutes.",
        [("99212", ("25",)), ("J1885", ()), ("96372", ())],
    ),
    (
        "ecg-interpreted",
        "Established patient. Electrocardiogram performed today and interpreted by me: sinus rhythm.",
        [("93000", ())],
    ),
    ("ecg-reviewed-only", "ECG from the hospital reviewed: normal.", []),
    (
        "hardware-removal",
        "PROCEDURE: Removal of the right distal radius plate and screws. Wound closed in layers.",
        [("20680", ())],
    ),
    (
        "knee-revision",
        "PROCEDURE: Revision total knee arthroplasty, left, both components exchanged.",
        [("27487", ("LT",))],
    ),
    (
        "office-xray",
        "Established patient. X-ray of the left knee, 2 views, taken in the office today: no fracture.",
        [("73560", ("LT",))],
    ),
    ("xray-elsewhere", "X-ray of the left knee, 2 views, from the hospital: no fracture.", []),
    ("rapid-strep", "Rapid strep test done in clinic: negative.", [("87880", ())]),
    ("dipstick-manual", "Urine dipstick, manual reading without microscopy: negative.", [("81002", ())]),
    ("splint-applied", "Short arm splint applied to the right forearm by me.", [("29125", ("RT",))]),
    (
        "debridement-muscle",
        "PROCEDURE: Excisional debridement of the sacral wound down to and including muscle, 12 sq cm.",
        [("11043", ())],
    ),
    ("debridement-planned", "PLAN: Debridement of the heel ulcer next week.", []),
    ("psychotherapy-45", "Individual psychotherapy session with the patient, 45 minutes.", [("90834", ())]),
    (
        "flu-vaccine",
        "Influenza vaccine, quadrivalent, preservative-free 0.5 mL, given IM today.",
        [("90686", ()), ("90471", ())],
    ),
]


def _codes(s: Suggestion) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.code, p.modifiers) for p in s.procedures]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PROCEDURE_CASES], ids=[c[0] for c in PROCEDURE_CASES])
def test_procedure_rules(kb, text: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    got = _codes(suggest(kb, text))
    assert sorted(got) == sorted(expected)


def test_procedure_order_and_units(kb) -> None:
    s = suggest(
        kb,
        "PROCEDURE: Right knee injected with 40 mg triamcinolone, no imaging. Total time 25 minutes, "
        "established patient, separate from the procedure.",
    )
    assert [p.code for p in s.procedures] == ["99213", "20610", "J3301"]
    assert s.procedures[2].why == "Drug supplied: triamcinolone (40 mg, 4 units)."
    assert "E/M level from documented time 25 minutes (established patient)." in s.notices


def test_facility_setting_drops_drug_supplies(kb) -> None:
    text = "PROCEDURE: Right knee injected with 40 mg triamcinolone, no imaging."
    assert [p.code for p in suggest(kb, text, setting="facility").procedures] == ["20610"]
    with pytest.raises(ValueError, match="setting must be 'office' or 'facility', not 'home'"):
        suggest(kb, text, setting="home")


def test_premanufactured_device_is_not_coded(kb) -> None:
    s = suggest(kb, "PROCEDURE: A commercial antibiotic spacer was inserted into the right knee joint.")
    assert s.procedures == ()
    assert "A drug-delivery device not prepared by hand (premanufactured) has no 20700-20704 code." in s.notices


def _dx(code: str, conf: float = 0.5, pos: int = 0, **ctx: object) -> coding.Dx:
    return coding.Dx(code, conf, (), "test", Context(**ctx), "assessment", pos)  # type: ignore[arg-type]


CODING_CASES = [
    ("htn-ckd", [_dx("I10"), _dx("N18.4", pos=1)], "", ["N18.4", "I12.9"]),
    ("htn-ckd5", [_dx("I10"), _dx("N18.6", pos=1)], "", ["N18.6", "I12.0"]),
    ("htn-heart-failure", [_dx("I10"), _dx("I50.9", pos=1)], "", ["I50.9", "I11.0"]),
    ("htn-heart-ckd", [_dx("I10"), _dx("I50.32"), _dx("N18.30")], "", ["I50.32", "N18.30", "I13.0"]),
    ("dm2-ckd", [_dx("E11.9"), _dx("N18.30")], "", ["N18.30", "E11.22"]),
    ("dm2-pad", [_dx("E11.9"), _dx("I73.9")], "", ["E11.51"]),
    ("dm2-complicated", [_dx("E11.9"), _dx("E11.42")], "", ["E11.42"]),
    ("excludes1-weaker-goes", [_dx("M54.50", 0.4), _dx("M54.42", 0.6)], "", ["M54.42"]),
    ("excludes1-wheezing-asthma", [_dx("J45.909", 0.7), _dx("R06.2", 0.3)], "", ["J45.909"]),
    ("history-of-cancer", [_dx("C50.911", historical=True, triggers=("history of",))], "", ["Z85.3"]),
    ("family-history", [_dx("C18.9", family=True)], "", ["Z80.0"]),
    ("family-history-header-child", [_dx("D12.6", family=True)], "", ["Z83.719"]),
    ("history-of-polyps", [_dx("D12.6", historical=True, triggers=("history of",))], "", ["Z86.0100"]),
    ("chronic-in-past-history-kept", [_dx("I10", historical=True)], "", ["I10"]),
    ("uncertain-dropped", [_dx("J18.9", uncertain=True), _dx("R05.9")], "", ["R05.9"]),
    ("negated-dropped", [_dx("S82.401A", negated=True)], "", []),
    ("header-to-side", [_dx("M17.1", laterality="right")], "", ["M17.11"]),
    ("header-unspecified", [_dx("M17.1")], "", ["M17.10"]),
    ("unspecified-side-sibling", [_dx("M25.569", laterality="left")], "", ["M25.562"]),
    ("unspecified-side-with-seventh", [_dx("S82.409A", laterality="left")], "", ["S82.402A"]),
    ("seventh-initial", [_dx("S82.401", laterality="right", encounter="initial")], "", ["S82.401A"]),
    ("seventh-subsequent", [_dx("S82.64XA", encounter="subsequent")], "", ["S82.64XD"]),
    ("seventh-delayed-healing", [_dx("S42.022A", encounter="subsequent")], "with delayed healing", ["S42.022G"]),
    ("placeholder-x", [_dx("S30.0", encounter="initial")], "", ["S30.0XXA"]),
    ("stage-from-words", [_dx("N18.9")], "chronic kidney disease stage 4", ["N18.4"]),
    ("unspecified-beside-specific", [_dx("M17.9"), _dx("M17.11")], "", ["M17.11"]),
]


@pytest.mark.parametrize(
    ("items", "words", "expected"), [c[1:] for c in CODING_CASES], ids=[c[0] for c in CODING_CASES]
)
def test_coding_rules(kb, items: list[coding.Dx], words: str, expected: list[str]) -> None:
    notices: list[str] = []
    got = coding.apply(kb, items, None, lambda d: words, notices)
    assert [d.code for d in got] == expected


def test_coding_notices(kb) -> None:
    notices: list[str] = []
    ev = (Evidence(0, 18, "possible pneumonia"),)
    items = [coding.Dx("J18.9", 0.5, ev, "t", Context(uncertain=True)), _dx("I10"), _dx("N18.4")]
    coding.apply(kb, items, None, lambda d: "", notices)
    assert notices == [
        "Uncertain diagnosis 'possible pneumonia' not coded; the symptoms documented are coded instead.",
        "Hypertension with chronic kidney disease: I12.9, with the N18 code.",
    ]
    notices = []
    coding.apply(kb, [_dx("S82.401", laterality="right")], None, lambda d: "", notices)
    assert notices == ["A 7th character needs the encounter type: S82.401 coded as an initial encounter."]


ENCOUNTER_CASES = [
    ("adult-preventive-normal", "Annual physical, 45-year-old established patient. Normal findings.", ["Z00.00"]),
    (
        "child-preventive-abnormal",
        "Well child visit, 6 years old, established. Assessment: well child exam with abnormal finding.",
        ["Z00.121"],
    ),
    ("screening-colonoscopy", "INDICATIONS: Screening.\nPROCEDURE: Colonoscopy.\nFINDINGS: Normal colon.", ["Z12.11"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in ENCOUNTER_CASES], ids=[c[0] for c in ENCOUNTER_CASES])
def test_encounter_reasons(kb, text: str, expected: list[str]) -> None:
    from medcode.language.note import read
    from medcode.suggest import encounter_reasons

    procedures = list(suggest(kb, text).procedures)
    assert [d.code for d in encounter_reasons(read(text), procedures)] == expected


def test_laterality_notices(kb) -> None:
    notices: list[str] = []
    got = coding.apply(kb, [_dx("M17.1")], None, lambda d: "", notices)
    assert [d.code for d in got] == ["M17.10"]
    assert notices == [
        "Laterality not stated for M17.1 (Unilateral primary osteoarthritis of knee): coded without a side."
    ]
    s = suggest(kb, "PROCEDURE: Knee joint injected with 40 mg triamcinolone, no imaging.")
    assert [(p.code, p.modifiers) for p in s.procedures] == [("20610", ()), ("J3301", ())]
    assert "Laterality not stated for 20610: no RT or LT modifier." in s.notices


def test_json_contract() -> None:
    s = Suggestion(
        (
            Suggested(
                "M17.11", "Unilateral primary osteoarthritis, right knee", 0.81234, (Evidence(3, 8, "knee"),), "w"
            ),
        ),
        (Suggested("20610", "Drain/inj joint/bursa w/o us", 0.9, (), "x", ("RT",), "CPT"),),
        ("n",),
    )
    assert s.as_json() == {
        "diagnoses": [
            {
                "code": "M17.11",
                "description": "Unilateral primary osteoarthritis, right knee",
                "confidence": 0.812,
                "evidence": [{"start": 3, "end": 8, "text": "knee"}],
                "why": "w",
            }
        ],
        "procedures": [
            {
                "code": "20610",
                "description": "Drain/inj joint/bursa w/o us",
                "confidence": 0.9,
                "evidence": [],
                "why": "x",
                "modifiers": ["RT"],
                "system": "CPT",
            }
        ],
        "notices": ["n"],
    }


def test_evidence_points_into_the_note(kb) -> None:
    text = (NOTES / "08-office-shoulder-bursitis-injection.txt").read_text()
    s = suggest(kb, text)
    for item in s.diagnoses + s.procedures:
        for e in item.evidence:
            assert text[e.start : e.end] == e.text


VOCAB_CODES = [
    ("em_time.tsv", ("patient", "code", "minutes"), "code"),
    ("em_levels.tsv", ("setting", "level", "code"), "code"),
    ("preventive_visits.tsv", ("patient", "from_age", "to_age?", "code"), "code"),
    ("joint_codes.tsv", ("size", "ultrasound", "code"), "code"),
    ("endoscopy.tsv", ("family", "technique", "code", "pattern"), "code"),
    ("laceration_repair.tsv", ("kind", "group", "code", "from_cm", "to_cm?", "addon?"), "code"),
    ("injectable_drugs.tsv", ("pattern", "code", "unit_mg", "dose_mg?"), "code"),
    ("vaccines.tsv", ("pattern", "code"), "code"),
    ("lesion_excision.tsv", ("kind", "group", "code", "from_cm", "to_cm?"), "code"),
    ("office_services.tsv", ("family", "pattern", "needs", "code", "why"), "code"),
    ("psychotherapy_time.tsv", ("code", "from_minutes", "to_minutes"), "code"),
]


@pytest.mark.parametrize(("name", "columns", "field"), VOCAB_CODES, ids=[v[0] for v in VOCAB_CODES])
def test_vocabulary_procedure_codes_exist(kb, name: str, columns: tuple[str, ...], field: str) -> None:
    from medcode.suggest.facts import procedure_facts

    codes = sorted({r[field] for r in read(name, columns)})
    facts, _ = procedure_facts(kb, codes, None)
    assert [c for c in codes if c not in facts or not facts[c].billable] == []


def test_vocabulary_diagnosis_codes_exist(kb) -> None:
    table = coding.Table(kb, None)
    codes = {
        c
        for r in read("history_codes.tsv", ("prefix", "personal?", "family?"))
        for c in (r["personal"], r["family"])
        if c
    }
    codes |= {
        r["add"] for r in read("combination_codes.tsv", ("name", "when", "unless?", "drop", "add?", "why")) if r["add"]
    }
    assert sorted(c for c in codes if table.row(c) is None) == []


def test_em_minutes_agree_with_short_descriptors(kb) -> None:
    """The minutes of em_time.tsv are those the PFS short descriptors name ("Office o/p est low 20 min")."""
    from medcode.suggest.facts import procedure_facts

    rows = read("em_time.tsv", ("patient", "code", "minutes"))
    facts, _ = procedure_facts(kb, [r["code"] for r in rows], None)
    assert [(r["code"], facts[r["code"]].description.endswith(f" {r['minutes']} min")) for r in rows] == [
        (r["code"], True) for r in rows
    ]


def test_laceration_lengths_agree_with_short_descriptors(kb) -> None:
    """Where a short descriptor names the range ("Rpr s/n/ax/gen/trnk2.6-7.5cm"), it is the table's."""
    from medcode.suggest.facts import procedure_facts

    rows = [r for r in read("laceration_repair.tsv", ("kind", "group", "code", "from_cm", "to_cm?", "addon?"))]
    facts, _ = procedure_facts(kb, [r["code"] for r in rows], None)
    checked = 0
    for r in rows:
        desc = facts[r["code"]].description
        if r["to_cm"] and f"{r['from_cm']}-" in desc:
            assert r["to_cm"].rstrip("0").rstrip(".") in desc, (r["code"], desc)
            checked += 1
    assert checked >= 15


def test_three_hundred_word_note_is_fast(kb) -> None:
    text = (NOTES / "02-office-dm2-ckd-htn.txt").read_text()
    text = (text + "\n") * max(1, 300 // len(text.split()))
    suggest(kb, text)
    t0 = time.perf_counter()
    suggest(kb, text)
    assert time.perf_counter() - t0 <= 1.0


# --- the US encounter notes (tests/data/notes, gold.tsv by helper E) --------------------------------


def _gold() -> dict[str, tuple[list[str], set[tuple[str, tuple[str, ...]]]]]:
    out: dict[str, tuple[list[str], set[tuple[str, tuple[str, ...]]]]] = {}
    for line in (NOTES / "gold.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        note, kind, _, code, mods = line.split("\t")
        dx, px = out.setdefault(note, ([], set()))
        if kind == "D":
            dx.append(code)
        else:
            px.add((code, tuple(sorted(m for m in mods.split(",") if m))))
    return out


# Notes whose every procedure a rule of suggest.families/surgery/visits decides: the whole set must match.
RULE_NOTES = [
    "01-office-htn-ckd.txt",
    "03-office-hhd-hfpef.txt",
    "04-newpt-low-back-sciatica.txt",
    "06-ed-cough-fever-no-pneumonia.txt",
    "07-proc-knee-injection-us-right.txt",
    "08-office-shoulder-bursitis-injection.txt",
    "09-proc-bilateral-knee-injections.txt",
    "10-proc-wrist-injection-left.txt",
    "11-proc-thumb-cmc-injection-us.txt",
    "12-proc-ankle-aspiration-possible-gout.txt",
    "13-colonoscopy-screening-normal-medicare.txt",
    "14-colonoscopy-screening-snare-medicare.txt",
    "15-colonoscopy-biopsy-chronic-diarrhea.txt",
    "16-egd-biopsy-gastritis.txt",
    "17-egd-barrett-surveillance.txt",
    "18-ed-simple-laceration-forearm.txt",
    "19-ed-hand-and-forehead-lacerations.txt",
    "20-urgentcare-scalp-lacerations.txt",
    "21-ed-intermediate-repair-lower-leg.txt",
    "22-ed-buckle-fracture-child.txt",
    "23-office-ankle-fracture-followup.txt",
    "24-office-clavicle-delayed-healing.txt",
    "25-ed-rib-fractures-fall-ladder.txt",
    "27-op-infected-hip-resection-spacer.txt",
    "28-op-hip-spacer-removal-revision.txt",
    "30-op-bead-removal-debridement.txt",
    "31-office-headache-negated.txt",
    "33-ed-rlq-pain-suspected-appendicitis.txt",
    "39-well-child-4yo-caries.txt",
    "46-op-excision-bcc-cheek.txt",
    "47-office-copd-exacerbation-neb.txt",
    "48-office-strep-pharyngitis-child.txt",
    "49-psychotherapy-mdd.txt",
    "51-wound-clinic-diabetic-heel-ulcer.txt",
    "53-proc-great-toe-injection-gout.txt",
]


@pytest.fixture(scope="module")
def notes_run(kb) -> dict[str, Suggestion]:
    return {name: suggest(kb, (NOTES / name).read_text()) for name in _gold()}


def _px(s: Suggestion) -> set[tuple[str, tuple[str, ...]]]:
    return {(p.code, tuple(sorted(p.modifiers))) for p in s.procedures}


@pytest.mark.parametrize("name", RULE_NOTES)
def test_us_note_procedures(notes_run: dict[str, Suggestion], name: str) -> None:
    assert _px(notes_run[name]) == _gold()[name][1]


def test_us_notes_no_procedure_outside_the_gold(notes_run: dict[str, Suggestion]) -> None:
    gold = _gold()
    codes = {n: {p.code for p in s.procedures} - {c for c, _ in gold[n][1]} for n, s in notes_run.items()}
    assert {n: sorted(c) for n, c in codes.items() if c} == {}


def _f1(tp: int, emitted: int, gold: int) -> float:
    return 2 * tp / (emitted + gold) if emitted + gold else 1.0


def test_us_notes_aggregate_floors(notes_run: dict[str, Suggestion]) -> None:
    """Floors from the measurement of 2026-12-04 minus a margin: procedures F1 1.000 (on the notes the rules
    were written against), diagnoses F1 0.437 and first-listed 27/53 (measured again, unchanged, after the
    confidence gate for narrative notes)."""
    gold = _gold()
    px_tp = sum(len({p[0] for p in _px(s)} & {p[0] for p in gold[n][1]}) for n, s in notes_run.items())
    px_f1 = _f1(px_tp, sum(len(s.procedures) for s in notes_run.values()), sum(len(g[1]) for g in gold.values()))
    dx_tp = sum(len({d.code for d in s.diagnoses} & set(gold[n][0])) for n, s in notes_run.items())
    dx_f1 = _f1(dx_tp, sum(len(s.diagnoses) for s in notes_run.values()), sum(len(g[0]) for g in gold.values()))
    first = sum(bool(s.diagnoses) and s.diagnoses[0].code == gold[n][0][0] for n, s in notes_run.items())
    assert (px_f1 >= 0.95, dx_f1 >= 0.40, first >= 25) == (True, True, True), (px_f1, dx_f1, first)


@pytest.mark.slow  # the first concept-index lookup loads the index (about 20 s on this machine)
def test_include_all_adds_candidates_below_the_threshold(kb) -> None:
    from medcode.suggest.procedures import THRESHOLD

    text = (NOTES / "26-op-tibia-nail-removal-antibiotic-rod.txt").read_text()
    plain, everything = suggest(kb, text), suggest(kb, text, include_all=True)
    assert everything.procedures == plain.procedures and everything.diagnoses == plain.diagnoses
    assert plain.candidates == () and "candidates" not in plain.as_json()
    procs = [c for c in everything.candidates if c.system != "ICD-10-CM"]
    assert procs and all(c.confidence < THRESHOLD for c in procs)
    assert everything.as_json()["candidates"] == [c.as_json(c.system != "ICD-10-CM") for c in everything.candidates]
