"""CasePilot answers about a code's relatives and modifiers: sibling codes (the curated code
families and their rule from ``medcode.guide``, the add-on relation, the endoscopy family and the
neighbouring codes of the fee schedule) and whether a modifier applies (``guide.guide`` advice,
``guide.modifier_rules`` and ``medcode.rules``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from medcode import rules, vocab
from medcode.assistant.answers_facts import asked_day, cite, exists, link, make, no_code, procedure_page
from medcode.assistant.model import Answer, Citation, Question
from medcode.guide import guide, modifier_rules
from medcode.kb import models
from medcode.kb.store import KnowledgeBase
from medcode.search import SearchError, search

__all__ = ["ANSWERS", "answer_modifiers", "answer_siblings"]

NEIGHBOURS = 4  # codes on either side of a code that are shown as its neighbours
ENDOSCOPY_SPAN = 15  # codes on either side searched for the same endoscopic base


def _shifted(code: str, k: int) -> str | None:
    if code.isdigit():
        n = int(code) + k
        return f"{n:05d}" if 0 <= n <= 99999 else None
    if code[0].isalpha() and code[1:].isdigit():
        n = int(code[1:]) + k
        return f"{code[0]}{n:04d}" if 0 <= n <= 9999 else None
    return None


def _name(page: models.ProcedureCode) -> str:
    return page.plain_description or page.description


def answer_siblings(kb: KnowledgeBase, q: Question) -> Answer:
    """The codes that go with the codes named and how to choose between them."""
    pages = [p for c in q.codes[:3] if (p := procedure_page(kb, c, q)) is not None]
    if not pages:
        return no_code("siblings", q)
    said: list[str] = []
    codes: list[str] = [p.code for p in pages]
    cites: list[Citation | None] = []
    families = vocab.code_families()
    seen_families: set[str] = set()
    named = {p.code for p in pages}
    related = False  # a family, add-on or endoscopy relation (not only neighbouring codes)
    day = asked_day(kb, q)
    for page in pages:
        code = page.code
        g = guide(page)
        cites.append(cite(page.sources[0], link(code, "facts")) if page.sources else None)
        if g.family is not None and g.family.name not in seen_families:
            seen_families.add(g.family.name)
            said.append(f"{code} is in the family {', '.join(g.family.codes)}: {g.family.rule}")
            related = True
            codes.extend(g.family.codes)
            stem = g.family.name.rsplit("_", 1)[0]
            for name, (members, rule) in families.items():
                if name != g.family.name and name.rsplit("_", 1)[0] == stem and name not in seen_families:
                    seen_families.add(name)
                    said.append(f"The related family {', '.join(members)}: {rule}")
                    codes.extend(members)
        if page.addon is not None and 0 < len(page.addon.primary_codes) <= 8:
            said.append(f"{code} is an add-on code billed with {', '.join(page.addon.primary_codes)}.")
            related = True
            codes.extend(page.addon.primary_codes)
            cites.append(cite(page.addon.citation, link(code, "facts")))
        if page.addon_codes:
            said.append(f"Add-on codes billed with {code}: {', '.join(page.addon_codes[:8])}.")
            related = True
            codes.extend(page.addon_codes[:8])
        scope = _endoscopy(kb, q, page, codes)
        said.extend(scope)
        related = related or bool(scope)
        near = []
        for k in range(-NEIGHBOURS, NEIGHBOURS + 1):
            other = _shifted(code, k)
            if k == 0 or other is None or other in named or other in codes or not exists(kb, other, day):
                continue
            found = procedure_page(kb, other, q)
            if found is not None:
                near.append(f"{found.code} ({_name(found)})")
                codes.append(found.code)
        if near:
            said.append(f"Neighbouring codes of {code} in the code set: {'; '.join(near)}.")
    first = pages[0].code
    return make(
        "siblings",
        said,
        codes,
        cites,
        (
            f"Can {first} and {codes[1] if len(codes) > 1 else first} be billed together?",
            f"What does {first} pay?",
            f"Which modifiers apply to {first}?",
        ),
        # neighbouring codes alone are a reading of the code set, not a relation on file
        confidence="high" if related else "medium",
    )


_SCOPE = re.compile(r"endoscop|scopy|endoscopic base", re.IGNORECASE)


def _endoscopy(kb: KnowledgeBase, q: Question, page: models.ProcedureCode, codes: list[str]) -> list[str]:
    """The codes of the fee schedule near ``page`` that share its endoscopic base code."""
    mp = page.indicators.get("mult_proc")
    if page.endoscopic_base is None and not (mp is not None and mp.code == "3") and not _SCOPE.search(q.text):
        return []
    base = page.endoscopic_base.code if page.endoscopic_base else page.code
    family = []
    for k in range(-ENDOSCOPY_SPAN, ENDOSCOPY_SPAN + 1):
        other = _shifted(base, k)
        if other is None or other == page.code or not exists(kb, other, asked_day(kb, q)):
            continue
        found = procedure_page(kb, other, q)
        if found is not None and found.endoscopic_base is not None and found.endoscopic_base.code == base:
            family.append(found.code)
    if not family:
        return []
    codes.extend([base, *family])
    return [
        f"{base} is the endoscopic base code (multiple procedure indicator 3) of {', '.join(family)}: "
        "the endoscopy family rules apply when they are billed together."
    ]


_MOD_IN_TEXT = re.compile(
    r"\b(?i:modifiers?)\s+-?([0-9]{2}|[A-Z]{2})\b|\b([0-9]{2}|[A-Z]{2})\s+(?i:modifier)\b|"
    r"\b(?i:with)\s+(TC|[0-9]{2})\b|\b(TC|XS|XE|XP|XU|JZ|JW)\b"
)
_BYPASS = re.compile(r"bypass|get around|ptp|ncci|pair edit|unbundl", re.IGNORECASE)
_APPLIES = {"yes": "Yes", "no": "No", "with documentation": "Only with documentation"}


def _asked_modifiers(q: Question) -> list[str]:
    mods: list[str] = [m for ms in q.modifiers.values() for m in ms]
    for m in _MOD_IN_TEXT.finditer(q.text):
        found = next(g for g in m.groups() if g).upper()
        if found not in mods:
            mods.append(found)
    return mods


def _meaning(kb: KnowledgeBase, modifier: str) -> str | None:
    try:
        hits = search(kb, modifier, system="modifier", limit=5).hits
    except SearchError:
        return None
    found = next((h.description for h in hits if h.code == modifier), None)
    if found and len(found) > 120 and ";" in found:  # (a HCPCS modifier's long text: its first clause)
        found = found.split(";", 1)[0]
    return found


def _modifier_cite(kb: KnowledgeBase, modifier: str) -> Citation:
    hcpcs = kb.resolve("hcpcs", None)
    if modifier.isalpha() and hcpcs is not None:
        return Citation("hcpcs", hcpcs.release.name, hcpcs.release.files[0].file, modifier, f"/modifiers/{modifier}")
    return Citation("curated", "medcode", "vocab/cpt_modifiers.tsv", modifier, f"/modifiers/{modifier}")


def _bypassing() -> str:
    distinct = ", ".join(rules.DISTINCT_MODIFIERS)
    em = ", ".join(sorted(rules.EM_MODIFIERS))
    other = ", ".join(
        sorted(
            (rules.GLOBAL_SURGERY_MODIFIERS | rules.OTHER_PTP_MODIFIERS)
            - set(rules.DISTINCT_MODIFIERS)
            - rules.EM_MODIFIERS
        )
    )
    anatomic = ", ".join(sorted(rules.ANATOMIC_MODIFIERS))
    return (
        f"The NCCI PTP-associated modifiers bypass an edit with modifier indicator 1 (never indicator 0): "
        f"{distinct} (distinct services, not on E/M services); {em} (on the E/M code of the pair); "
        f"the global surgery and other modifiers {other}; and anatomic modifiers ({anatomic}) when the two lines "
        "show different sites. Use them only when the record shows a separate site, session, encounter or practitioner."
    )


def answer_modifiers(kb: KnowledgeBase, q: Question) -> Answer:
    """Whether a modifier applies to a code, what a modifier means, and which bypass PTP edits."""
    mods = _asked_modifiers(q)
    ptp_cite = Citation("rules", "medcode", "medcode/rules.py", "PTP_MODIFIERS", None)
    follow = ("Which modifiers bypass an NCCI PTP edit?", "What does modifier 59 mean?")
    if not q.codes:
        said: list[str] = []
        cites: list[Citation | None] = []
        for m in mods[:3]:
            meaning = _meaning(kb, m)
            if _BYPASS.search(q.text):
                if m in rules.PTP_MODIFIERS:
                    said.append(
                        f"Yes: {m} is an NCCI PTP-associated modifier; "
                        "it can bypass an edit whose modifier indicator is 1."
                    )
                else:
                    said.append(
                        f"No: modifier {m} is not an NCCI PTP-associated modifier; it does not bypass a PTP edit."
                    )
                cites.append(ptp_cite)
            if meaning:
                said.append(f"Modifier {m}: {meaning}.")
                cites.append(_modifier_cite(kb, m))
            said.extend(d.text for d in modifier_rules(m)[:2])
        if not mods or (_BYPASS.search(q.text) and not said):
            said.append(_bypassing())
            cites.append(ptp_cite)
        if not said:
            return no_code("modifiers", q, "Name a modifier, or a code and a modifier.")
        return make("modifiers", said, [], cites, follow)
    page = procedure_page(kb, q.codes[0], q)
    if page is None:
        return no_code("modifiers", q)
    code = page.code
    advice = guide(page).modifiers
    said = []
    cites = [cite(page.sources[0], link(code, "modifiers")) if page.sources else None]
    codes = [code, *q.codes[1:]]
    for m in mods[:3] or ():
        found = next((a for a in advice if a.modifier == m), None)
        if found is not None:
            said.append(
                f"{_APPLIES.get(found.applies, found.applies)}: modifier {m} on {code}. {found.why} ({found.source})."
            )
        else:
            verdicts = [
                (field, rules.verdict(field, (page.indicators.get(field) or models.Indicator("", None)).code, m))
                for field, governed in rules.INDICATOR_MODIFIERS.items()
                if m in governed
            ]
            judged = [(f, v) for f, v in verdicts if v is not None]
            if judged:
                field, v = judged[0]
                ind = page.indicators[field]
                word = {rules.ALLOWED: "Yes", rules.NOT_ALLOWED: "No", rules.DOCUMENTATION: "Only with documentation"}[
                    v
                ]
                said.append(
                    f"{word}: modifier {m} on {code}. {rules.INDICATOR_NAMES[field]} indicator {ind.code}: "
                    f"{rules.INDICATOR_RULES[field][ind.code].definition}"
                )
            elif _BYPASS.search(q.text) or m in rules.PTP_MODIFIERS:
                where = "is" if m in rules.PTP_MODIFIERS else "is not"
                said.append(
                    f"Modifier {m} {where} an NCCI PTP-associated modifier; "
                    f"the code page names no other rule for it on {code}."
                )
            else:
                said.append(f"The code page of {code} names no rule for modifier {m}.")
        meaning = _meaning(kb, m)
        if meaning and meaning not in " ".join(said):
            said.append(f"Modifier {m}: {meaning}.")
            cites.append(_modifier_cite(kb, m))
    if not mods:
        shown = [f"{a.modifier} ({a.applies})" for a in advice]
        said.append(f"Modifiers on the code page of {code}: {'; '.join(shown) or 'none named'}.")
    return make(
        "modifiers",
        said,
        codes,
        cites,
        (f"Which codes does {code} have NCCI edits with?", f"What does {code} pay?", *follow),
    )


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {
    "siblings": answer_siblings,
    "modifiers": answer_modifiers,
}
