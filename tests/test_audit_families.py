"""The audit's family checks for wound repair, colonoscopy and joint injection, on short notes of our own,
through the real API (``medcode.audit``) and the test knowledge base."""

from __future__ import annotations

import pytest

import medcode
from medcode import lookup
from medcode.audit import catalogue
from medcode.audit.model import CodeAudit
from medcode.codes import UnknownCode


def _audit(kb, text: str, *codes: str) -> dict[str, CodeAudit]:
    return {c.code + "".join("-" + m for m in c.modifiers): c for c in medcode.audit(kb, text, list(codes)).codes}


def _status(c: CodeAudit) -> dict[str, str]:
    return {e.id: e.status for e in c.elements}


def _element(c: CodeAudit, id: str):
    return next(e for e in c.elements if e.id == id)


# --- catalogue ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "ranges"),
    [
        ("repair", [(12001, 12057), (13100, 13160)]),
        ("colonoscopy", [(45378, 45393), (45398, 45398)]),
        ("joint_injection", [(20600, 20611)]),
    ],
)
def test_each_family_lists_every_code_of_its_range_the_kb_holds(kb, family, ranges):
    fam = catalogue.catalogue()[family]
    catalogue.validate(kb, {family: fam})
    held = []
    for lo, hi in ranges:
        for n in range(lo, hi + 1):
            try:
                lookup.get_code(kb, str(n))
            except UnknownCode:
                continue
            held.append(str(n))
    assert sorted(fam.codes) == held
    assert [e.id for e in fam.elements][:3] == {
        "repair": ["length", "location", "repair_type"],
        "colonoscopy": ["extent", "technique", "indication"],
        "joint_injection": ["site", "guidance", "image_recorded"],
    }[family]


# --- wound repair ------------------------------------------------------------------------------

TWO_WOUNDS = """PROCEDURE: Laceration repair.
DESCRIPTION: A 3.5 cm laceration of the left forearm and a 25 mm laceration of the left thigh were irrigated.
Both were closed with simple interrupted 4-0 nylon sutures.
"""


def test_repair_lengths_are_summed_by_group(kb):
    got = _audit(kb, TWO_WOUNDS, "12002")["12002"]
    assert got.supported, got.summary
    length = _element(got, "length")
    assert length.status == "present"
    assert "6 cm" in length.detail  # 3.5 cm + 25 mm
    assert {e.text for e in length.evidence} == {"3.5 cm", "25 mm"}


def test_repair_wrong_length_sum_suggests_the_code_of_the_sum(kb):
    got = _audit(kb, TWO_WOUNDS, "12004")["12004"]
    assert not got.supported
    assert _status(got)["length"] == "missing"
    assert "6 cm" in _element(got, "length").detail
    assert _element(got, "length").query
    assert got.suggested_code == "12002"


def test_repair_wrong_group(kb):
    text = """PROCEDURE: Repair of a 4 cm laceration of the right cheek.
DESCRIPTION: Layered closure with deep dermal 5-0 Vicryl sutures, then 6-0 nylon to the skin.
"""
    got = _audit(kb, text, "12032")["12032"]
    assert not got.supported
    assert _status(got)["location"] == "missing"
    assert "cheek" in _element(got, "location").detail
    assert _status(got)["repair_type"] == "present"
    assert got.suggested_code == "12052"
    assert _audit(kb, text, "12052")["12052"].supported


def test_simple_repair_billed_as_intermediate(kb):
    got = _audit(kb, TWO_WOUNDS, "12032")["12032"]
    assert not got.supported
    assert _status(got)["repair_type"] == "missing"
    assert "simple" in _element(got, "repair_type").detail
    assert got.suggested_code == "12002"


def test_adhesive_strips_alone_are_not_a_repair_but_tissue_adhesive_is(kb):
    strips = "PROCEDURE: A 2 cm laceration of the chin was cleaned and closed with Steri-Strips.\n"
    got = _audit(kb, strips, "12011")["12011"]
    assert not got.supported
    assert _status(got)["repair_type"] == "missing"
    assert "strips" in _element(got, "repair_type").detail
    glue = "PROCEDURE: A 2 cm laceration of the chin was cleaned and closed with Dermabond tissue adhesive.\n"
    got = _audit(kb, glue, "12011")["12011"]
    assert got.supported, got.summary
    assert "G0168" in _element(got, "repair_type").detail


def test_negated_complex_words_do_not_make_a_complex_repair(kb):
    text = """PROCEDURE: Repair of a 5 cm laceration of the right leg.
DESCRIPTION: No debridement of the wound edges was needed. Layered closure with 4-0 Vicryl and 4-0 nylon sutures.
"""
    got = _audit(kb, text, "13121")["13121"]
    assert not got.supported
    assert _status(got)["repair_type"] != "present"
    assert got.suggested_code == "12032"


def test_complex_addon_counts_each_further_5_cm(kb):
    text = """PROCEDURE: Complex repair of a 12 cm laceration of the back.
DESCRIPTION: The wound edges were debrided and extensive undermining was performed, then a layered closure.
"""
    got = _audit(kb, text, "13101", "13102")
    assert got["13101"].supported, got["13101"].summary
    assert got["13102"].supported, got["13102"].summary
    short = "PROCEDURE: Complex repair of a 6 cm laceration of the back with extensive undermining.\n"
    got = _audit(kb, short, "13101", "13102")
    assert got["13101"].supported
    assert not got["13102"].supported
    assert _status(got["13102"])["length"] == "missing"


# --- colonoscopy -------------------------------------------------------------------------------

SNARE = """INDICATIONS: Screening colonoscopy, average risk.
PROCEDURE: Colonoscopy with polypectomy.
DESCRIPTION: The colonoscope was advanced to the cecum, identified by the appendiceal orifice and the ileocecal valve.
The preparation was good. A 7 mm sigmoid polyp was removed with a cold snare.
"""


def test_colonoscopy_snare_supports_45385_not_45380(kb):
    got = _audit(kb, SNARE, "45385")["45385"]
    assert got.supported, got.summary
    assert _status(got)["prep_quality"] == "present"
    assert "Screening" in _element(got, "indication").detail
    wrong = _audit(kb, SNARE, "45380")["45380"]
    assert not wrong.supported
    technique = _element(wrong, "technique")
    assert technique.status == "missing"
    assert technique.evidence and "snare" in technique.evidence[0].text
    assert wrong.suggested_code == "45385"


def test_colonoscopy_biopsy_billed_as_snare(kb):
    text = SNARE.replace("was removed with a cold snare", "was sampled with cold biopsy forceps")
    got = _audit(kb, text, "45385")["45385"]
    assert not got.supported
    assert got.suggested_code == "45380"
    assert _audit(kb, text, "45380")["45380"].supported


def test_incomplete_colonoscopy_needs_modifier_53_or_52(kb):
    text = """INDICATIONS: Iron deficiency anemia.
PROCEDURE: Colonoscopy.
DESCRIPTION: The scope was advanced to the hepatic flexure. Unable to advance further because of poor prep;
the procedure was aborted. No polyps were seen and no biopsies were taken.
"""
    got = _audit(kb, text, "45378")["45378"]
    extent = _element(got, "extent")
    assert extent.status == "present"
    assert "53" in extent.detail
    assert not got.supported
    assert "53" in got.summary
    assert _status(got)["technique"] == "present"
    assert _audit(kb, text, "45378-53")["45378-53"].supported


def test_diagnostic_colonoscopy_without_extent_or_indication(kb):
    text = "PROCEDURE: Colonoscopy.\nFINDINGS: Scattered diverticula in the sigmoid colon. No polyps.\n"
    got = _audit(kb, text, "45378")["45378"]
    assert not got.supported
    status = _status(got)
    assert status["extent"] == "missing" and status["indication"] == "missing"
    assert status["technique"] == "present"
    assert not _element(got, "prep_quality").required


# --- joint injection ---------------------------------------------------------------------------

KNEE_US = """PROCEDURE: Right knee injection.
DESCRIPTION: Under ultrasound guidance the right knee joint was entered and injected with 40 mg triamcinolone
and 3 mL of 1% lidocaine.
"""


def test_ultrasound_code_needs_a_recorded_image(kb):
    got = _audit(kb, KNEE_US, "20611-RT")["20611-RT"]
    assert not got.supported
    assert _status(got)["image_recorded"] == "missing"
    assert _status(got)["guidance"] == "present"
    assert got.suggested_code == "20610"
    recorded = KNEE_US + "A still image of the needle in the joint was saved to the chart.\n"
    got = _audit(kb, recorded, "20611-RT")["20611-RT"]
    assert got.supported, got.summary
    under = _audit(kb, recorded, "20610-RT")["20610-RT"]
    assert under.suggested_code == "20611"


def test_non_ultrasound_code_leaves_out_the_image(kb):
    text = """PROCEDURE: Left shoulder injection.
DESCRIPTION: Using anatomic landmarks, the left subacromial bursa was injected with 40 mg methylprednisolone.
"""
    got = _audit(kb, text, "20610-LT")["20610-LT"]
    assert got.supported, got.summary
    assert "image_recorded" not in _status(got)
    assert _element(got, "guidance").evidence[0].text.lower() == "landmarks"
    assert any("40 mg" in e.text for e in _element(got, "drug").evidence)
    us = _audit(kb, text, "20611-LT")["20611-LT"]
    assert not us.supported
    assert _status(us)["guidance"] != "present"


def test_wrong_joint_size_suggests_the_code_of_the_joint(kb):
    got = _audit(kb, KNEE_US, "20605-RT")["20605-RT"]
    assert not got.supported
    site = _element(got, "site")
    assert site.status == "missing" and "major" in site.detail
    assert got.suggested_code == "20610"
    small = "PROCEDURE: The right thumb carpometacarpal joint was injected with 10 mg triamcinolone.\n"
    got = _audit(kb, small, "20610-RT")["20610-RT"]
    assert not got.supported
    assert got.suggested_code == "20600"


def test_aspiration_only_needs_no_drug_and_negated_drug(kb):
    text = """PROCEDURE: Left knee arthrocentesis.
DESCRIPTION: By palpation, 30 mL of straw-colored fluid was aspirated from the left knee. No steroid was injected.
"""
    got = _audit(kb, text, "20610-LT")["20610-LT"]
    assert got.supported, got.summary
    drug = _element(got, "drug")
    assert drug.status == "negated" and not drug.required
    injected = "PROCEDURE: The left knee was injected.\n"
    got = _audit(kb, injected, "20610-LT")["20610-LT"]
    assert not got.supported
    assert _element(got, "drug").status == "missing" and _element(got, "drug").required


def test_a_title_naming_the_kind_is_not_the_work(kb):
    text = """Procedure: Complex repair, left cheek laceration
3.0 cm laceration of the left cheek. Edges undermined minimally to ease tension. Layered closure with 5-0 Vicryl
deep and 6-0 Prolene for the skin. No debridement needed.
"""
    got = _audit(kb, text, "13132")["13132"]
    assert not got.supported
    assert _status(got)["repair_type"] == "missing"
    assert "intermediate" in _element(got, "repair_type").detail
    assert got.suggested_code == "12052"


def test_repair_lengths_written_as_clinicians_write_them(kb):
    text = """ED note
Lac #1: occipital scalp, 2 cm. Irrigated, closed with 4 staples.
Lac #2: right eyebrow, 15 mm. Closed with 6-0 Ethilon simple interrupted.
"""
    got = _audit(kb, text, "12001", "12011")
    assert got["12001"].supported, got["12001"].summary  # scalp: trunk and limbs group for simple repair
    assert got["12011"].supported, got["12011"].summary
    wrong = _audit(kb, text, "12013")["12013"]  # face, 2.6-5 cm: the scalp wound does not count on the face
    assert not wrong.supported
    assert _status(wrong)["length"] == "missing" and "1.5 cm" in _element(wrong, "length").detail
    assert wrong.suggested_code == "12011"


# --- colonoscopy: the indication line, doubt, screening modifier ---------------------------------


def test_colonoscopy_body_after_an_indication_header(kb):
    text = """Colonoscopy
Indication: Recurrent hematochezia; diagnostic.
Sedation: propofol.
Prep: Good, BBPS 3-2-2.
Cecum reached (appendiceal orifice and ileocecal valve seen). A 5 mm polyp was removed with a cold snare.
"""
    got = _audit(kb, text, "45385")["45385"]
    assert got.supported, got.summary
    assert [e.text for e in _element(got, "indication").evidence] == ["hematochezia"]
    assert _status(got)["prep_quality"] == "present"


def test_colonoscopy_uncertain_cecum_and_empty_indication(kb):
    text = """COLONOSCOPY
Indication: per referral.
The colonoscope was advanced to what was thought to be the cecum, but the appendiceal landmarks were not clearly
seen. A 6 mm polyp was removed with a cold snare.
"""
    got = _audit(kb, text, "45385")["45385"]
    assert not got.supported
    assert _status(got)["extent"] == "uncertain"
    assert _status(got)["indication"] == "missing"


def test_screening_modifier_needs_a_screening_indication(kb):
    text = """PROCEDURE: Colonoscopy.
INDICATION: Bright red blood per rectum and iron deficiency anemia.
DESCRIPTION: The scope was advanced to the cecum, identified by the appendiceal orifice. No polyps; no biopsies.
"""
    got = _audit(kb, text, "45378-33")["45378-33"]
    assert not got.supported
    indication = _element(got, "indication")
    assert indication.status == "missing" and "33" in indication.detail
    assert _audit(kb, text, "45378")["45378"].supported


# --- joint injection: what is not the drug injected ----------------------------------------------


def test_numbing_the_skin_and_past_shots_are_not_the_drug(kb):
    text = """HPI: Right knee osteoarthritis. He had a Kenalog 40 mg shot in the right knee in March elsewhere.
Procedure: Right knee injection, located by palpation. Skin wheal of 1% lidocaine. The needle entered the joint and
the injection was given.
"""
    got = _audit(kb, text, "20610-RT")["20610-RT"]
    assert not got.supported
    assert _status(got)["drug"] == "missing" and _element(got, "drug").required


def test_a_drug_the_physician_is_not_sure_of_is_uncertain(kb):
    text = """Procedure: Right wrist joint injection, landmark guided.
Injected what I believe was 40 mg of Depo-Medrol into the right radiocarpal joint; I will verify the vial.
"""
    got = _audit(kb, text, "20605-RT")["20605-RT"]
    assert _status(got)["drug"] == "uncertain"
    assert not got.supported
