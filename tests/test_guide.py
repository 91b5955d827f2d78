"""Code page guidance derived from real fee schedule, add-on, MUE and PTP rows (medcode.guide)."""

from __future__ import annotations

import pytest

from medcode import get_code, vocab
from medcode.guide import guide


def _advice(kb, code):
    return {a.modifier: a.applies for a in guide(get_code(kb, code)).modifiers}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("20702", {"51": "no", "50": "no", "26": "no", "62": "no", "66": "no", "80": "with documentation"}),
        (
            "27447",
            {"50": "yes", "51": "yes", "80": "yes", "62": "with documentation", "66": "no", "57": "yes", "79": "yes"},
        ),
        ("71046", {"26": "yes", "TC": "yes", "50": "no"}),
        ("99213", {"25": "yes", "26": "no"}),
    ],
    ids=["addon", "bilateral-surgery", "pctc-1", "em"],
)
def test_applicable_modifiers(kb, code, expected):
    advice = _advice(kb, code)
    assert {m: advice.get(m) for m in expected} == expected


def test_office_visit_gets_no_surgical_modifiers(kb):
    advice = _advice(kb, "99213")
    assert not {"80", "82", "AS", "62", "66", "51", "79"} & set(advice)


def test_addon_guidance(kb):
    g = guide(get_code(kb, "20702"))
    # every indicator is 0: 26/TC, 50, 62 and 66 are denied, an assistant needs documentation
    assert [d.finding for d in g.denials] == [
        "addon.no_primary",
        "modifiers.51_on_addon",
        "mue.exceeded",
        "modifiers.pctc_mismatch",
        "modifiers.bilateral_not_allowed",
        "modifiers.assistant_documentation",
        "modifiers.co_surgeon_not_allowed",
        "modifiers.team_not_allowed",
        "siblings.conflict",
        None,
        None,
    ]
    assert g.documentation[0].text.startswith(
        "The primary procedure performed at the same session (an eligible "
        "primary: 20680, 20690, 20692, 20694, 20802, 20805, 20838, 21510 "
        "and 31 more)."
    )
    curated = [r.text for r in g.documentation if r.source == "curated"]
    assert curated == list(vocab.code_documentation()["drug_delivery_insertion"]["document"])
    faq = {a.question: a.answer for a in g.faqs}
    assert faq["Can 20702 be billed alone?"].startswith("No. 20702 is an add-on code (NCCI edit type 1)")
    assert faq["Does 20702 take modifier 51?"].startswith("No.")
    assert faq["How many units of 20702 can be billed?"].startswith(
        "1 per date of service (MUE adjudication indicator 3"
    )
    assert g.family is not None and g.family.codes == ("20700", "20702", "20704")


def test_requirements_from_indicators(kb):
    sources = [r.source for r in guide(get_code(kb, "27447")).documentation]
    assert sources == ["bilateral indicator 1", "co-surgeon indicator 1"]
    assert [r.source for r in guide(get_code(kb, "71046")).documentation][0] == "PC/TC indicator 1"
    # the rule table asks for documentation with assistant 0 and team 1 (22836)
    assert [r.source for r in guide(get_code(kb, "22836")).documentation] == [
        "assistant indicator 0",
        "team indicator 1",
    ]


def test_status_denial_uses_the_checkers_id(kb):
    g = guide(get_code(kb, "G0008"))
    assert g.denials[0].finding == "validity.status_x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuch\tdocument|text\n", "line 1: unknown family 'nosuch'"),
        ("office_new\tadvice|text\n", "line 1: expected family<TAB>document|text"),
        ("# comment\noffice_new\tdocument|\n", "line 2: expected family<TAB>document|text"),
    ],
    ids=["unknown-family", "unknown-kind", "blank"],
)
def test_code_documentation_is_read_strictly(text, message):
    with pytest.raises(vocab.VocabularyError, match=message.replace("|", r"\|")):
        vocab.code_documentation(text)


def test_family_choices_read_from_the_rule():
    assert vocab.family_choices("drug_delivery_insertion") == {
        "20700": "deep (beneath the fascia)",
        "20702": "intramedullary",
        "20704": "intra-articular",
    }
    assert vocab.family_choices("office_new") == {}
