"""Documentation audit: does the note support each code billed, element by element?

``audit(kb, text, codes)`` reads the note once, and for each code (with its modifiers: "20610-RT",
"99214 25") judges the requirements of its catalogue family (``vocab/audit/<family>.toml``: the
family's module, else the elements' word patterns) and the generic ones its data calls for
(``medcode.audit.generic``: add-on primary, laterality, time, procedure described). A code is
supported when every required element is present and the family's own check holds.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from medcode.audit import catalogue, evidence, generic
from medcode.audit.catalogue import GENERIC_IDS, CatalogueError, Family, family_of, validate
from medcode.audit.families import Billed, Judged
from medcode.audit.model import Audit, CodeAudit, Element, Evidence, Level
from medcode.codes import MalformedCode, normalize
from medcode.kb.store import KnowledgeBase
from medcode.language.note import Note, read

__all__ = [
    "Audit",
    "Billed",
    "CatalogueError",
    "CodeAudit",
    "Element",
    "Evidence",
    "Judged",
    "Level",
    "MAX_CODES",
    "audit",
    "audit_code",
    "catalogue",
    "evidence",
    "family_of",
    "generic",
    "parse_code",
    "validate",
]

MAX_CODES = 50
_SPLIT = re.compile(r"[\s\-]+")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_CODE = re.compile(r"[0-9A-Z]{5}")


def parse_code(entry: str) -> tuple[str, tuple[str, ...]]:
    """``"20610-RT"`` or ``"20610 rt"`` -> ``("20610", ("RT",))``; MalformedCode when it is not a
    5-character code followed by 2-character modifiers."""
    parts = [p for p in _SPLIT.split(normalize(entry)) if p]
    if not parts or not _CODE.fullmatch(parts[0]) or not all(_MODIFIER.fullmatch(m) for m in parts[1:]):
        raise MalformedCode(entry)
    return parts[0], tuple(dict.fromkeys(parts[1:]))


def _page(kb: KnowledgeBase, code: str, day: date | None) -> Any:
    from medcode.lookup import NotProcedureCode, get_code

    page = get_code(kb, code, day=day)  # UnknownCode when the knowledge base does not hold it
    if page.system not in ("CPT", "HCPCS"):
        raise NotProcedureCode(code, "the audit checks the documentation of procedure codes (CPT, HCPCS)")
    return page


def _words(ids: Iterable[str]) -> str:
    names = [i.replace("_", " ") for i in ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summary(elements: Sequence[Element], holds: bool, suggested: str | None) -> str:
    """Plain words: "Supported: ..." or "Not supported: the note does not document X; Y is negated"."""
    required = [e for e in elements if e.required]
    if not required and holds:
        return "Supported: no documentation requirement applies to this code beyond the note itself."
    if holds and all(e.status == "present" for e in required):
        return f"Supported: the note documents {_words(e.id for e in required)}."
    parts = []
    missing = [e.id for e in required if e.status == "missing" and not (e.evidence and e.detail)]
    if missing:
        parts.append(f"the note does not document {_words(missing)}")
    for e in required:  # a wrong value: the note says something else
        if e.status == "missing" and e.evidence and e.detail:
            parts.append(f"{_words([e.id])}: {e.detail[:1].lower()}{e.detail[1:].rstrip('.')}")
    for status, verb in (("negated", "negated"), ("uncertain", "uncertain")):
        found = [e.id for e in required if e.status == status]
        if found:
            parts.append(f"{_words(found)} {'is' if len(found) == 1 else 'are'} {verb}")
    if not holds and not parts:
        parts.append("the family's check does not hold")
    if suggested and not any(suggested in p for p in parts):
        parts.append(f"the note supports {suggested} instead")
    return "Not supported: " + "; ".join(parts) + "."


def _module(name: str) -> Any:
    return importlib.import_module(f"medcode.audit.families.{name}")


def _family_elements(kb: KnowledgeBase, note: Note, billed: Billed, family: Family) -> Judged:
    """The family's elements judged by its module, or by their patterns (and the generic rules for a
    generic id the family refines)."""
    if family.module is not None:
        judged: Judged = _module(family.module).judge(kb, note, billed, family)
        return judged
    out: list[Element] = []
    suggested: str | None = None
    for spec in family.elements:
        if spec.id in GENERIC_IDS:
            out.append(generic.element(kb, spec.id, note, billed, spec))
            continue
        element, other = evidence.judge_code(note, spec, billed.code)
        out.append(element)
        if other is not None and spec.required and suggested is None:
            suggested = other
    return Judged(tuple(out), suggested_code=suggested)


def audit_code(kb: KnowledgeBase, note: Note, billed: Billed, family: Family | None = None) -> CodeAudit:
    """The audit of one billed code in a note read once (``family``: default its catalogue family)."""
    family = family or family_of(billed.code)
    judged = _family_elements(kb, note, billed, family) if family is not None else Judged(())
    defined = frozenset(e.id for e in judged.elements)
    elements = judged.elements + generic.elements(kb, note, billed, defined)
    holds = judged.holds
    suggested = judged.suggested_code if judged.suggested_code != billed.code else None
    supported = holds and all(e.status == "present" for e in elements if e.required)
    page = billed.page
    return CodeAudit(
        code=billed.code,
        modifiers=billed.modifiers,
        description=(page.plain_description or page.description) if page is not None else "",
        family=family.id if family is not None else None,
        supported=supported,
        summary=judged.summary or summary(elements, holds, suggested),
        elements=elements,
        level=judged.level,
        suggested_code=suggested,
    )


def audit(kb: KnowledgeBase, text: str, codes: Sequence[str], *, day: date | None = None) -> Audit:
    """Whether ``text`` supports each of ``codes`` (see the module's docstring).

    MalformedCode for a code that is not a CPT/HCPCS code with 2-character modifiers, UnknownCode for
    one the knowledge base does not hold, ValueError for an empty note, no codes or more than MAX_CODES.
    """
    if not text or not text.strip():
        raise ValueError("the note is empty")
    if isinstance(codes, str):
        codes = [codes]
    if not codes:
        raise ValueError("no codes to audit")
    if len(codes) > MAX_CODES:
        raise ValueError(f"at most {MAX_CODES} codes per audit, got {len(codes)}")
    parsed = [parse_code(c) for c in codes]
    validate(kb)
    pages: dict[str, Any] = {}
    for code, _ in parsed:
        if code not in pages:
            pages[code] = _page(kb, code, day)
    note = read(text)
    out = []
    notices: list[str] = []
    for i, (code, modifiers) in enumerate(parsed):
        others = tuple(c for j, (c, _) in enumerate(parsed) if j != i)
        billed = Billed(code, modifiers, pages[code], others, day)
        result = audit_code(kb, note, billed)
        if not result.elements:
            notices.append(f"medcode has no documentation requirements for {code}: nothing was checked.")
        out.append(result)
    return Audit(tuple(out), tuple(notices))
