"""The answer of Case2Code: suggested codes with the note's words that support them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """Words of the note (``text[start:end]``) that support a code."""

    start: int
    end: int
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Suggested:
    """One suggested code. ``confidence`` is 0-1; ``why`` says in a sentence how it was found."""

    code: str
    description: str
    confidence: float
    evidence: tuple[Evidence, ...]
    why: str
    modifiers: tuple[str, ...] = ()
    system: str = ""

    def as_json(self, procedure: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "description": self.description,
            "confidence": round(float(self.confidence), 3),
            "evidence": [e.as_json() for e in self.evidence],
            "why": self.why,
        }
        if procedure:
            out["modifiers"] = list(self.modifiers)
        if self.system:
            out["system"] = self.system
        return out


@dataclass(frozen=True)
class Suggestion:
    """Codes a coder would report for a note, in reporting order (first-listed diagnosis first).

    ``candidates`` holds codes below the confidence threshold (only when asked for)."""

    diagnoses: tuple[Suggested, ...]
    procedures: tuple[Suggested, ...]
    notices: tuple[str, ...]
    candidates: tuple[Suggested, ...] = ()

    def as_json(self, include_candidates: bool | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "diagnoses": [d.as_json() for d in self.diagnoses],
            "procedures": [p.as_json(procedure=True) for p in self.procedures],
            "notices": list(self.notices),
        }
        if include_candidates or (include_candidates is None and self.candidates):
            out["candidates"] = [c.as_json(procedure=c.system != "ICD-10-CM") for c in self.candidates]
        return out
