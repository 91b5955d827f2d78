"""The answer of the documentation audit: for each code billed, whether the note supports it, element by
element, with the note's words (evidence) and, for what is missing, a query to the physician."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcode.suggest.model import Evidence

__all__ = ["STATUSES", "MDM_LEVELS", "Audit", "CodeAudit", "Element", "Evidence", "Level"]

STATUSES = ("present", "missing", "negated", "uncertain")
MDM_LEVELS = ("straightforward", "low", "moderate", "high")


@dataclass(frozen=True)
class Element:
    """One documentation requirement of a code and what the note says of it.

    ``status``: present (the note documents it, affirmed), missing (nothing, or something that does not
    meet it: ``detail`` says what), negated ("no antibiotic was added", "prefabricated spacer") or
    uncertain ("possible", "may have"). ``query`` is a question to the physician in plain words for
    every status but present. ``required`` elements decide the verdict; the others are advice."""

    id: str
    label: str
    status: str
    evidence: tuple[Evidence, ...] = ()
    query: str | None = None
    required: bool = True
    source: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "evidence": [e.as_json() for e in self.evidence],
            "query": self.query,
            "required": self.required,
            "source": self.source,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Level:
    """E/M only: the level the note supports. ``problems``, ``data``, ``risk`` and ``mdm`` are one of
    MDM_LEVELS; ``by_mdm`` and ``by_time`` the codes each way supports (None: none);
    ``supported_code`` the highest of the two."""

    mdm: str
    problems: str
    data: str
    risk: str
    time_minutes: int | None
    by_mdm: str | None
    by_time: str | None
    supported_code: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "mdm": self.mdm,
            "problems": self.problems,
            "data": self.data,
            "risk": self.risk,
            "time_minutes": self.time_minutes,
            "by_mdm": self.by_mdm,
            "by_time": self.by_time,
            "supported_code": self.supported_code,
        }


@dataclass(frozen=True)
class CodeAudit:
    """The audit of one code billed (``code`` without modifiers; ``modifiers`` as billed)."""

    code: str
    modifiers: tuple[str, ...]
    description: str
    family: str | None  # the catalogue family, None when only the generic requirements apply
    supported: bool
    summary: str
    elements: tuple[Element, ...]
    level: Level | None = None
    suggested_code: str | None = None  # the family's code the note supports instead, when it is another

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "modifiers": list(self.modifiers),
            "description": self.description,
            "family": self.family,
            "supported": self.supported,
            "summary": self.summary,
            "elements": [e.as_json() for e in self.elements],
            "suggested_code": self.suggested_code,
        }
        if self.level is not None:
            out["level"] = self.level.as_json()
        return out


@dataclass(frozen=True)
class Audit:
    codes: tuple[CodeAudit, ...]
    notices: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"codes": [c.as_json() for c in self.codes], "notices": list(self.notices)}
