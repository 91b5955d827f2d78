"""Family checks of the documentation audit: one module per family that needs more than word patterns
(``module`` in the family's catalogue file), each with ``judge(kb, note, billed, family) -> Judged``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from medcode.audit.model import Element, Level


@dataclass(frozen=True)
class Billed:
    """A code as billed: the code, its modifiers, its page (None for a code without one) and the other
    codes of the claim."""

    code: str
    modifiers: tuple[str, ...]
    page: Any  # medcode.kb.models.ProcedureCode | None
    others: tuple[str, ...]
    day: date | None


@dataclass(frozen=True)
class Judged:
    """What a family module found: its elements in catalogue order, the E/M level, the code the note
    supports instead, whether the family's own check holds, and a summary (None: the core writes one)."""

    elements: tuple[Element, ...]
    level: Level | None = None
    suggested_code: str | None = None
    holds: bool = True
    summary: str | None = None
