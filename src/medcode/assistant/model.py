"""CasePilot's question and answer: what the parser read from a question, and the grounded answer with
the rows it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = ["CONFIDENCE", "Answer", "Citation", "Question"]

CONFIDENCE = ("high", "medium", "low")


@dataclass(frozen=True)
class Citation:
    """A row a fact came from: the file family (``pprrvu``, ``gpci``, ``ncci_ptp``, ``ncci_mue``,
    ``ncci_aoc``, ``icd10cm``, ``icd10cm_guidelines`` ...), its release, the file name and the row key
    (a code, a code pair, a locality, a guideline section and page). ``link``: the code page section
    the fact is shown in (``/codes/20702#ncci``), when there is one."""

    family: str
    release: str
    file: str
    row: str
    link: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.family, "release": self.release, "file": self.file, "row": self.row}
        if self.link:
            out["link"] = self.link
        return out


@dataclass(frozen=True)
class Question:
    """What the parser read from a question (and, for a follow-up, from the conversation before it).

    ``kind``: what is asked (see assistant.parse.KINDS); ``codes``: the codes named, normalised, in
    order (procedure codes without modifiers, ICD-10-CM with the dot); ``modifiers``: code -> the
    modifiers written with it; ``unknown``: code-like strings that are no code; ``terms``: lay words
    to resolve to a code when no code is named; ``zip``/``locality`` (MAC-LOC)/``place`` (the city or
    state as written); ``day``: the date of service asked (a year means its first day... see parse);
    ``setting``: facility | office | None."""

    text: str
    kind: str
    codes: tuple[str, ...] = ()
    modifiers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    terms: str | None = None
    zip: str | None = None
    locality: str | None = None
    place: str | None = None
    day: date | None = None
    year: int | None = None
    setting: str | None = None


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: tuple[Citation, ...] = ()
    codes: tuple[str, ...] = ()
    confidence: str = "high"
    followups: tuple[str, ...] = ()
    kind: str = ""
    notices: tuple[str, ...] = ()
    conversation_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "answer": self.answer,
            "citations": [c.as_json() for c in self.citations],
            "codes": list(self.codes),
            "confidence": self.confidence,
            "followups": list(self.followups),
            "kind": self.kind,
            "notices": list(self.notices),
        }
        if self.conversation_id is not None:
            out["conversation_id"] = self.conversation_id
        return out
