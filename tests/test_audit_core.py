"""The documentation audit's core: the strict catalogue, the evidence of an element, the drug-delivery
family and the generic elements, on the real knowledge base (notes written for these tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

import medcode
from medcode.audit import catalogue as cat
from medcode.audit import evidence, generic
from medcode.audit.catalogue import CatalogueError, load_all, load_text, validate
from medcode.audit.model import Element
from medcode.codes import MalformedCode, UnknownCode
from medcode.kb.models import ProcedureCode
from medcode.language.note import read
from medcode.lookup import get_code as _get_code

BAD = Path(__file__).parent / "data" / "audit" / "bad"
DRUG_DELIVERY = Path(medcode.__file__).parent / "vocab" / "audit" / "drug_delivery.toml"

# file -> (key the error names, words of the message, element it names or None)
BAD_FILES = {
    "unknown_key.toml": ("colour", "unknown key", None),
    "unknown_element_key.toml": ("pattern", "unknown key", "drug"),
    "malformed_code.toml": ("codes", "not a 5-character", None),
    "empty_pattern.toml": ("patterns", "empty pattern", "site"),
    "bad_regex.toml": ("negations", "invalid regex", "drug"),
    "duplicate_id.toml": ("id", "duplicate element id", "drug"),
    "unknown_module.toml": ("module", "no module medcode.audit.families.no_such_module", None),
    "unknown_rule.toml": ("rule", "needs the family's module", "drug"),
    "nothing_satisfies.toml": (None, "needs patterns, by_code or a rule", "drug"),
    "by_code_other_code.toml": ("by_code", "not one of the family's codes", "site"),
    "unknown_section.toml": ("skip_sections", "unknown section 'planz'", "drug"),
    "bad_source.toml": ("source", "a source must name", None),
    "family_name.toml": ("family", "must be the file's name", None),
    "missing_query.toml": ("query", "missing", "drug"),
    "not_toml.toml": (None, "not valid TOML", None),
}


def test_every_bad_file_is_tested() -> None:
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted([*BAD_FILES, "unknown_code.toml"])


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_catalogue_file_is_an_error_naming_file_key_and_element(name: str) -> None:
    key, words, element = BAD_FILES[name]
    with pytest.raises(CatalogueError) as err:
        load_text(name, (BAD / name).read_text())
    e = err.value
    assert isinstance(e, medcode.vocab.VocabularyError)
    assert str(e).startswith(name) and words in str(e)
    assert e.file == name and e.key == key and e.element == element
    if key is not None:  # the line of the offending key
        lines = (BAD / name).read_text().splitlines()
        line = lines[e.line - 1] if e.line > 0 else ""
        assert key in line or (words == "missing" and line == "[[elements]]"), (e.line, line)


def test_unknown_code_is_an_error_against_the_knowledge_base(kb) -> None:
    family = load_text("unknown_code.toml", (BAD / "unknown_code.toml").read_text())  # well formed
    with pytest.raises(CatalogueError) as err:
        validate(kb, {family.id: family})
    assert err.value.file == "unknown_code.toml" and err.value.key == "codes" and "20709" in str(err.value)


def test_a_code_in_two_families_is_an_error() -> None:
    text = DRUG_DELIVERY.read_text()
    other = text.replace('family = "drug_delivery"', 'family = "other"')
    with pytest.raises(CatalogueError, match="code 20700 is also in drug_delivery.toml"):
        load_all({"drug_delivery.toml": text, "other.toml": other})


def test_packaged_catalogue_loads_and_its_codes_are_in_the_knowledge_base(kb) -> None:
    families = cat.catalogue()
    assert families["drug_delivery"].codes == ("20700", "20702", "20704")
    assert cat.family_of("20702") is families["drug_delivery"] and cat.family_of("27447") is None
    validate(kb)
    for family in families.values():
        for spec in family.elements:
            assert cat.SOURCE.search(spec.source), (family.id, spec.id)


def test_drug_delivery_family_has_the_issue_elements() -> None:
    family = load_text("drug_delivery.toml", DRUG_DELIVERY.read_text())
    ids = [e.id for e in family.elements]
    assert ids == ["site", "drug", "carrier", "manual_preparation", "quantity", "primary_procedure"]
    assert not family.element("quantity").required and family.element("primary_procedure").required
    assert set(family.element("site").by_code) == {"20700", "20702", "20704"}


# --- evidence --------------------------------------------------------------------------------------


def test_hits_read_the_context_of_each_match() -> None:
    import re

    note = read(
        "PROCEDURE: Vancomycin beads were placed. No tobramycin was added. History of gentamicin allergy.\n"
        "Possible cefazolin reaction.\n"
    )
    found = evidence.hits(note, [re.compile(r"vancomycin|tobramycin|gentamicin|cefazolin")])
    assert [(note.text[h.start : h.end], h.status) for h in found] == [
        ("Vancomycin", "present"),
        ("tobramycin", "negated"),
        ("gentamicin", "historical"),
        ("cefazolin", "uncertain"),
    ]


def test_judge_gives_the_matched_words_and_no_query_when_present() -> None:
    family = load_text("drug_delivery.toml", DRUG_DELIVERY.read_text())
    note = read("PROCEDURE: The antibiotic beads were placed within the medullary canal.")
    site = evidence.judge(note, family.element("site"), "20702")
    assert site.status == "present" and site.query is None
    assert [(e.text, note.text[e.start : e.end]) for e in site.evidence] == [("medullary canal", "medullary canal")]
    element, other = evidence.judge_code(note, family.element("site"), "20700")
    assert element.status == "missing" and other == "20702" and element.query
    assert "supports 20702" in element.detail


# --- the drug-delivery family through medcode.audit ------------------------------------------------

HAND_MADE = """PROCEDURE: Irrigation and debridement of the right tibial osteomyelitis.
Vancomycin 2 g and tobramycin 2.4 g were mixed with 40 g of PMMA cement on the back table and the cement was
rolled by hand into beads. The antibiotic beads were placed within the medullary canal of the right tibia.
"""
PREFABRICATED = """PROCEDURE: Removal of the infected right total knee components and debridement.
A prefabricated antibiotic cement spacer was placed into the knee joint.
"""
NO_DRUG = """PROCEDURE: Debridement of the right femur down to bleeding bone.
Cement was mixed by hand and molded into a rod. No antibiotic was added.
The rod was inserted into the femoral canal.
"""


def get_code(kb, code: str) -> ProcedureCode:
    page = _get_code(kb, code)
    assert isinstance(page, ProcedureCode)
    return page


def _element(result: medcode.Audit, i: int, id: str) -> Element:
    return next(e for e in result.codes[i].elements if e.id == id)


def test_hand_made_intramedullary_beads_support_20702(kb) -> None:
    result = medcode.audit(kb, HAND_MADE, ["20702", "11044"])
    dd = result.codes[0]
    assert dd.code == "20702" and dd.family == "drug_delivery"
    statuses = {e.id: e.status for e in dd.elements}
    assert statuses == {
        "site": "present",
        "drug": "present",
        "carrier": "present",
        "manual_preparation": "present",
        "quantity": "present",
        "primary_procedure": "present",
    }
    assert dd.supported and dd.summary.startswith("Supported") and dd.suggested_code is None
    drug = _element(result, 0, "drug")
    assert [e.text for e in drug.evidence][:2] == ["Vancomycin", "tobramycin"]
    assert all(HAND_MADE[e.start : e.end] == e.text for el in dd.elements for e in el.evidence)


def test_prefabricated_spacer_is_negated_manual_preparation(kb) -> None:
    result = medcode.audit(kb, PREFABRICATED, ["20704"])
    code = result.codes[0]
    manual = _element(result, 0, "manual_preparation")
    assert manual.status == "negated" and manual.query and "prefabricated" in manual.detail
    assert [e.text for e in manual.evidence] == ["prefabricated"]
    assert _element(result, 0, "site").status == "present"
    assert not code.supported and "manual preparation is negated" in code.summary


def test_no_antibiotic_added_is_negated_drug(kb) -> None:
    result = medcode.audit(kb, NO_DRUG, ["20702"])
    drug = _element(result, 0, "drug")
    assert drug.status == "negated" and drug.evidence[0].text == "antibiotic"
    assert _element(result, 0, "manual_preparation").status == "present"
    assert _element(result, 0, "site").status == "present"
    assert not result.codes[0].supported and "drug is negated" in result.codes[0].summary


def test_wrong_site_is_missing_and_suggests_the_code_the_note_supports(kb) -> None:
    result = medcode.audit(kb, HAND_MADE, ["20704"])
    code = result.codes[0]
    site = _element(result, 0, "site")
    assert site.status == "missing" and "20702" in site.detail and site.evidence[0].text == "medullary canal"
    assert code.suggested_code == "20702" and not code.supported
    assert "20702" in code.summary


def test_side_billed_must_agree_with_the_note(kb) -> None:
    left = medcode.audit(kb, HAND_MADE, ["20702-LT"]).codes[0]
    side = next(e for e in left.elements if e.id == "laterality")
    assert left.modifiers == ("LT",) and side.status == "missing" and "right" in side.detail
    assert not left.supported
    right = medcode.audit(kb, HAND_MADE, ["20702 RT"]).codes[0]
    assert next(e for e in right.elements if e.id == "laterality").status == "present" and right.supported


def test_hedged_site_is_uncertain(kb) -> None:
    note = (
        "PROCEDURE: Arthrotomy and debridement of the right ankle. Cement was mixed by hand with 2 g of "
        "vancomycin and rolled into beads. As the capsule could not be repaired, it is unclear whether the "
        "beads rest within the joint or in the soft tissue."
    )
    code = medcode.audit(kb, note, ["20704"]).codes[0]
    site = next(e for e in code.elements if e.id == "site")
    assert site.status == "uncertain" and site.query and not code.supported
    assert "site is uncertain" in code.summary


def test_planned_device_does_not_count(kb) -> None:
    note = "ASSESSMENT: Infected tibial nonunion.\nPLAN: Will place antibiotic beads in the medullary canal next week."
    code = medcode.audit(kb, note, ["20702"]).codes[0]
    assert {e.id: e.status for e in code.elements}["site"] == "missing"
    assert not code.supported and code.summary.startswith("Not supported: the note does not document site")


# --- the generic elements on real codes ------------------------------------------------------------


def test_addon_without_its_primary(kb) -> None:
    page = get_code(kb, "11045")
    assert page.addon is not None and page.addon.primary_codes  # an add-on code in the NCCI file
    eligible = page.addon.primary_codes[0]
    alone = medcode.audit(kb, "Wound check: the right leg wound is healing well.", ["11045"]).codes[0]
    primary = next(e for e in alone.elements if e.id == "primary_procedure")
    assert alone.family is None and primary.status == "missing" and primary.query
    assert eligible in primary.detail and not alone.supported
    note = "PROCEDURE: Subcutaneous tissue debridement of 50 sq cm of the right leg wound was performed."
    both = medcode.audit(kb, note, ["11045", eligible]).codes[0]
    primary = next(e for e in both.elements if e.id == "primary_procedure")
    assert primary.status == "present" and primary.evidence and both.supported and not primary.detail
    # described but not billed: the documentation is there, and the detail says to bill the primary
    described = medcode.audit(kb, note, ["11045"]).codes[0]
    primary = next(e for e in described.elements if e.id == "primary_procedure")
    assert primary.status == "present" and eligible in primary.detail and "bill" in primary.detail


def test_addon_whose_primary_is_billed_but_not_described(kb) -> None:
    note = "ASSESSMENT: Chronic wound of the right leg.\nPLAN: Debridement next visit."
    code = medcode.audit(kb, note, ["11045", "11042"]).codes[0]
    primary = next(e for e in code.elements if e.id == "primary_procedure")
    assert primary.status == "missing" and "11042 is billed" in primary.detail


def test_bilateral_indicator_1_needs_the_side(kb) -> None:
    page = get_code(kb, "27447")
    assert page.indicators["bilateral"].code == "1"
    assert page.global_period is not None and page.global_period.code == "090"
    none = medcode.audit(kb, "PROCEDURE: Total knee arthroplasty was performed.", ["27447"]).codes[0]
    assert {e.id: e.status for e in none.elements} == {"laterality": "missing", "procedure_described": "present"}
    assert not none.supported
    note = "PROCEDURE: Left total knee arthroplasty was performed."
    left = medcode.audit(kb, note, ["27447"]).codes[0]
    assert left.supported and next(e for e in left.elements if e.id == "laterality").evidence[0].text == "Left"
    both = medcode.audit(kb, note, ["27447-50"]).codes[0]
    side = next(e for e in both.elements if e.id == "laterality")
    assert side.status == "missing" and "both sides" in side.detail.lower()
    bilateral = medcode.audit(kb, "PROCEDURE: Bilateral total knee arthroplasty was performed.", ["27447-50"])
    assert bilateral.codes[0].supported


def test_timed_code_needs_the_minutes(kb) -> None:
    page = get_code(kb, "90834")
    assert "45" in page.description  # the descriptor names a time
    with_time = medcode.audit(kb, "Individual psychotherapy with the patient, 45 minutes, was provided.", ["90834"])
    element = with_time.codes[0].elements[0]
    assert element.id == "time" and element.status == "present" and element.evidence[0].text == "45 minutes"
    without = medcode.audit(kb, "Individual psychotherapy with the patient was provided.", ["90834"]).codes[0]
    assert [(e.id, e.status) for e in without.elements] == [("time", "missing")] and not without.supported
    assert "does not document time" in without.summary


def test_global_090_code_needs_the_procedure_described(kb) -> None:
    note = "ASSESSMENT: End-stage osteoarthritis of the right knee.\nPLAN: Right total knee arthroplasty next month."
    code = medcode.audit(kb, note, ["27447-RT"]).codes[0]
    described = next(e for e in code.elements if e.id == "procedure_described")
    assert described.status == "missing" and described.query and not code.supported


def test_generic_rules_follow_the_code_data(kb) -> None:
    from medcode.audit.families import Billed

    def ids(code: str, *mods: str) -> tuple[str, ...]:
        return generic.applies(Billed(code, mods, get_code(kb, code), (), None))

    assert ids("11045") == ("primary_procedure",)
    assert ids("27447") == ("laterality", "procedure_described")
    assert ids("90834") == ("time",)
    assert ids("97110") == ("time",)  # "each 15 minutes" in medcode's own description, not the short descriptor
    assert ids("22554") == ("procedure_described",)  # "min" of its short descriptor is not minutes
    assert ids("99213") == ("time",)  # the descriptor names 20 minutes
    assert ids("20702") == ("primary_procedure",)
    assert ids("20702", "LT") == ("primary_procedure", "laterality")


# --- the call itself ---------------------------------------------------------------------------------


def test_bad_input(kb) -> None:
    with pytest.raises(ValueError):
        medcode.audit(kb, "  \n", ["20702"])
    with pytest.raises(MalformedCode):
        medcode.audit(kb, HAND_MADE, ["2070"])
    with pytest.raises(MalformedCode):
        medcode.audit(kb, HAND_MADE, ["20702-RTX"])
    with pytest.raises(MalformedCode):
        medcode.audit(kb, HAND_MADE, ["E11.9"])
    with pytest.raises(UnknownCode):
        medcode.audit(kb, HAND_MADE, ["20709"])
    with pytest.raises(ValueError, match="at most 50"):
        medcode.audit(kb, HAND_MADE, ["20702"] * 51)


def test_json_contract(kb) -> None:
    out = medcode.audit(kb, PREFABRICATED, ["20704-RT", "27447"]).as_json()
    first = out["codes"][0]
    assert first["code"] == "20704" and first["modifiers"] == ["RT"] and first["supported"] is False
    for element in first["elements"]:
        assert set(element) >= {"id", "label", "status", "evidence", "query"}
        assert element["status"] in ("present", "missing", "negated", "uncertain")
        assert (element["query"] is None) == (element["status"] == "present")
        for ev in element["evidence"]:
            assert PREFABRICATED[ev["start"] : ev["end"]] == ev["text"]
