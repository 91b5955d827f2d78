"""Search on the real knowledge base: query forms, ranking, filters, bad input."""

from __future__ import annotations

from datetime import date

import pytest

from medcode import vocab
from medcode.language.words import plain_description
from medcode.search import SearchError, autocomplete, search


def codes(kb, query, **kw):
    return [h.code for h in search(kb, query, **kw).hits]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("antibiotic rod in the bone", "20702"),
        ("drug delivery device intramedullary", "20702"),
        ("office visit established 20 minutes", "99213"),
        ("knee replacement", "27447"),
        ("insj imed rx dev", "20702"),  # CMS abbreviations as typed
        ("arthroplasy knee", "27447"),  # a typo
        ("injection abatacept", "J0129"),  # HCPCS Level II long description
    ],
)
def test_finds_the_code_in_the_top_three(kb, query, expected):
    assert expected in codes(kb, query)[:3]


def test_hip_fracture_right_finds_s72_codes_first(kb):
    found = codes(kb, "hip fracture right", limit=10)
    assert found and all(c.startswith("S72.") for c in found[:5])


@pytest.mark.parametrize(
    "query,first",
    [
        ("S72.001A", "S72.001A"),
        ("S72001A", "S72.001A"),
        ("s72001a", "S72.001A"),
        ("20702", "20702"),
        ("J0129", "J0129"),
        ("LT", "LT"),
        ("modifier 25", "25"),
    ],
)
def test_exact_code_first(kb, query, first):
    r = search(kb, query)
    assert r.hits[0].code == first and r.hits[0].why == "exact code"


def test_prefix_and_range(kb):
    assert codes(kb, "2070")[:6] == ["20700", "20701", "20702", "20703", "20704", "20705"]
    assert codes(kb, "20700-20704") == ["20700", "20701", "20702", "20703", "20704"]
    s72 = codes(kb, "S72.0", limit=5)
    assert s72[0] == "S72.0" and all(c.startswith("S72.0") for c in s72)


def test_why_it_matched(kb):
    hit = next(h for h in search(kb, "heart attack").hits if h.code.startswith("I21"))
    assert hit.matched == ("heart attack",)
    assert [(e.typed, e.searched, e.kind) for e in hit.expansions] == [
        ("heart attack", "myocardial infarction", "synonym")
    ]
    typo = search(kb, "arthroplasy").expansions
    assert ("arthroplasy", "arthroplasty", "spelling") in [(e.typed, e.searched, e.kind) for e in typo]


def test_word_forms_are_stemmed(kb):
    assert set(codes(kb, "fractures of femur neck", limit=5)) & set(codes(kb, "fracture femur neck", limit=5))


def test_filters(kb):
    assert {h.system for h in search(kb, "fracture", system="cpt").hits} == {"CPT"}
    assert {h.system for h in search(kb, "fracture", system="icd10cm,hcpcs").hits} <= {"ICD-10-CM", "HCPCS"}
    headers = [h for h in search(kb, "fracture of femur", system="icd10cm", limit=100).hits if not h.billable]
    assert headers  # the header S72 and its subcategories are found ...
    billable = search(kb, "fracture of femur", system="icd10cm", limit=100, billable_only=True).hits
    assert billable and all(h.billable for h in billable)  # ... and left out on request
    with pytest.raises(SearchError):
        search(kb, "x", system="snomed")
    with pytest.raises(SearchError):
        search(kb, "x", limit=0)


def test_date_of_service_filter(kb):
    """A code of the 2025 fee schedule that the 2026 one dropped is found on a 2025 date only."""
    rows = kb.query("SELECT code FROM search_docs WHERE system = 'CPT' AND valid_to < '2026-01-01' LIMIT 1")
    assert rows, "expected a CPT code that left the fee schedule in 2026"
    (old,) = rows[0]
    assert old in codes(kb, old, day=date(2025, 3, 1))
    assert old not in codes(kb, old, day=date(2026, 5, 1))
    hit = search(kb, old).hits[0]
    assert not hit.active


def test_active_billable_codes_rank_ahead(kb):
    hits = search(kb, "migraine", limit=10).hits
    first_header = next((i for i, h in enumerate(hits) if not h.billable), len(hits))
    assert hits[0].billable and first_header > 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "x" * 10_000,
        '"unclosed',
        "*",
        "-",
        "(((",
        "NEAR(a b)",
        "a AND OR NOT b",
        "fracture -femur",
        "ünïcödé fracture",
        "\x00\x01\x1b[31m",
        "'; DROP TABLE search_docs; --",
        "^$",
        "20700-",
        "-20704",
        "S72.",
        "..",
        "🦴 broken bone",
    ],
)
def test_bad_input_never_raises(kb, query):
    r = search(kb, query)
    assert isinstance(r.hits, tuple)
    autocomplete(kb, query)


def test_bad_input_gets_a_message(kb):
    assert search(kb, "").notices and search(kb, "x" * 10_000).notices
    assert codes(kb, "ünïcödé fracture")  # accents dropped, the known word still finds codes


def test_autocomplete(kb):
    assert [h.code for h in autocomplete(kb, "2070")][:3] == ["20700", "20701", "20702"]
    assert "27486" in [h.code for h in autocomplete(kb, "knee repl")]
    assert len(autocomplete(kb, "fract")) == 10
    assert all(h.system == "ICD-10-CM" for h in autocomplete(kb, "fract", system="icd10cm"))


def test_plain_language_descriptions(kb):
    assert plain_description("Mnl prep&insj imed rx dev") == (
        "Manual preparation and insertion of intramedullary drug-delivery device"
    )
    assert plain_description("Office o/p est low 20 min") == "Office outpatient established low 20 minutes"
    (missing,) = kb.query(
        "SELECT count(*) FROM search_docs WHERE system IN ('CPT', 'HCPCS') AND short <> '' "
        "AND (plain IS NULL OR plain = '')"
    )[0]
    assert missing == 0


def test_vocabularies_are_strict():
    assert len(vocab.abbreviations()) >= 300 and vocab.abbreviations()["insj"] == "insertion"
    assert "myocardial infarction" in vocab.synonyms()["heart attack"]
    assert vocab.cpt_modifiers()["25"]
    with pytest.raises(vocab.VocabularyError, match="line 2: duplicate key"):
        vocab._pairs("t.tsv", "insj\tinsertion\ninsj\tinsert\n")
    with pytest.raises(vocab.VocabularyError, match="line 1"):
        vocab._pairs("t.tsv", "insj insertion\n")
    with pytest.raises(vocab.VocabularyError, match="line 1"):
        vocab._pairs("t.tsv", "insj\t insertion\n")


def words_only(kb, query, **kw):
    """Codes found by words and coding-rule evidence alone (no embedding cache), best first."""
    return [h.code for h in search(kb, query, semantic=False, **kw).hits]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("zzzqx knee replacement", "27447"),  # a word no code has does not empty the answer
        ("total knee arthroplasty qqqq wxyz", "27447"),
        ("pneumonia vvvvv", "J18.9"),
    ],
    ids=["unknown-first", "two-unknown", "unknown-last"],
)
def test_words_are_or_matched_with_coverage(kb, query, expected):
    assert words_only(kb, query)[0] == expected


@pytest.mark.parametrize(
    "query,first",
    [
        ("osteoarthritis of left hip", "M16.12"),
        ("osteoarthritis of right hip", "M16.11"),
        ("sprain of left ankle", "S93.402A"),
        ("sprain of right ankle subsequent encounter", "S93.401D"),
        ("sprain of ankle sequela", "S93.409S"),
    ],
    ids=["left", "right", "left-initial", "right-subsequent", "sequela"],
)
def test_side_and_encounter_choose_the_code(kb, query, first):
    assert words_only(kb, query, system="icd10cm")[0] == first


@pytest.mark.parametrize(
    "query,first",
    [
        ("pneumonia", "J18.9"),  # not J13 (a named organism) nor P23 (a newborn)
        ("conjunctivitis", "H10.9"),  # not acute/chronic/viral variants
        ("hypertension", "I10"),  # not secondary hypertension
        ("type 2 diabetes", "E11.9"),  # without complications
        ("migraine", "G43.909"),  # not intractable, without status migrainosus
        ("hyperlipidemia", "E78.5"),
    ],
    ids=["pneumonia", "conjunctivitis", "hypertension", "diabetes", "migraine", "hyperlipidemia"],
)
def test_the_general_code_when_nothing_more_is_said(kb, query, first):
    assert words_only(kb, query, system="icd10cm")[0] == first


def test_a_header_brings_its_default_billable_code(kb):
    """B02 has the inclusion term "shingles"; its codes do not: B02.9 (without complications) comes first."""
    found = words_only(kb, "shingles", system="icd10cm")
    assert found[:2] == ["B02.9", "B02"]
    billable = words_only(kb, "shingles", system="icd10cm", billable_only=True)
    assert billable[0] == "B02.9" and "B02" not in billable


@pytest.mark.parametrize(
    "query,first",
    [
        ("ct head without contrast", "70450"),
        ("ct head no contrast", "70450"),
        ("ct head with contrast", "70460"),
        ("ct head without and with contrast", "70470"),
    ],
    ids=["without", "no", "with", "both"],
)
def test_contrast_words_choose_the_code(kb, query, first):
    assert words_only(kb, query, system="cpt")[0] == first


@pytest.mark.parametrize(
    "query,expected,typed,searched,kind",
    [
        ("earwax removal", "69210", "earwax", "ear wax", None),  # two words run together (split when "earwax" is rare)
        ("chest pian", "R07.9", "pian", "pain", "spelling"),  # letters swapped in a rare word
        ("cholecystectomy laparoscopic", "47562", "laparoscopic", "laparoscopic", None),
        ("oa of the left knee", "M17.12", "oa", "osteoarthritis", "abbreviation"),  # clinical abbreviation
    ],
    ids=["compound", "transposition", "plain", "clinical-abbreviation"],
)
def test_query_reading(kb, query, expected, typed, searched, kind):
    r = search(kb, query, semantic=False)
    assert expected in [h.code for h in r.hits][:3]
    if kind is not None:
        assert (typed, searched, kind) in [(e.typed, e.searched, e.kind) for e in r.expansions]


def test_procedure_words_rank_procedures_first(kb):
    """'biopsy' and 'removal' are procedure words: the first codes are CPT/HCPCS, not diagnoses."""
    hits = search(kb, "skin lesion biopsy removal", semantic=False, limit=5).hits
    assert [h.system for h in hits] == ["CPT"] * 5


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("tylenol overdose", None),
        ("suicide attempt with tylenol", "self-harm"),
        ("intentional overdose of aspirin", "self-harm"),
        ("accidental ingestion of bleach", "accidental"),
        ("rash adverse effect of amoxicillin", "adverse effect"),
        ("underdosing of insulin", "underdosing"),
        ("poisoning by heroin undetermined intent", "undetermined"),
        ("assaulted with poison", "assault"),
    ],
    ids=lambda v: str(v),
)
def test_query_intent_of_a_poisoning(query: str, intent: str | None) -> None:
    from medcode.search import evidence

    assert evidence.read(query).intent == intent


@pytest.mark.parametrize(
    ("code", "title", "intent"),
    [
        (
            "T39.1X1A",
            "Poisoning by 4-Aminophenol derivatives, accidental (unintentional), initial encounter",
            "accidental",
        ),
        ("T39.1X2A", "Poisoning by 4-Aminophenol derivatives, intentional self-harm, initial encounter", "self-harm"),
        ("T39.1X5A", "Adverse effect of 4-Aminophenol derivatives, initial encounter", "adverse effect"),
        ("S72.001A", "Fracture of unspecified part of neck of right femur, initial encounter", None),
    ],
    ids=lambda v: str(v),
)
def test_code_intent_and_the_accidental_default(code: str, title: str, intent: str | None) -> None:
    from medcode.search import evidence

    assert evidence.doc_intent("ICD-10-CM", code, title) == intent
    # guideline I.C.19.e.5.b: no intent stated reads as accidental
    assert evidence.intent_score(None, intent) == (0.0 if intent in (None, "accidental") else -0.3)


@pytest.mark.parametrize(
    ("code", "title", "asked", "expected"),
    [
        (
            "S52.532D",
            "Colles' fracture of left radius, subsequent encounter for closed fracture with routine healing",
            "subsequent",
            0.3,
        ),
        (
            "S52.532K",
            "Colles' fracture of left radius, subsequent encounter for closed fracture with nonunion",
            "subsequent",
            0.0,
        ),
        (
            "S52.532K",
            "Colles' fracture of left radius, subsequent encounter for closed fracture with nonunion",
            None,
            -0.3,
        ),
        ("S52.532A", "Colles' fracture of left radius, initial encounter for closed fracture", None, 0.0),
        ("S52.532S", "Colles' fracture of left radius, sequela", "subsequent", -0.6),
    ],
    ids=lambda v: str(v),
)
def test_encounter_evidence_routine_healing_unless_said(code: str, title: str, asked: str | None, expected: float):
    """A bare follow-up reads as routine healing: delayed healing, nonunion and malunion must be said."""
    from medcode.search import evidence

    assert evidence.encounter_score(asked, evidence.doc_encounter("ICD-10-CM", code, title)) == expected
