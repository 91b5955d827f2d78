"""The requirement catalogue of the documentation audit: one strict TOML file per code family in
``medcode/vocab/audit``. (Types only so far; the loader is being written.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ElementSpec:
    id: str
    label: str
    required: bool
    source: str
    query: str
    patterns: tuple[re.Pattern[str], ...] = ()
    negations: tuple[re.Pattern[str], ...] = ()
    by_code: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    skip_sections: frozenset[str] = frozenset()
    rule: str | None = None


@dataclass(frozen=True)
class Family:
    id: str
    label: str
    codes: tuple[str, ...]
    module: str | None
    source: str
    elements: tuple[ElementSpec, ...]
    file: str = ""

    def element(self, id: str) -> ElementSpec:
        for e in self.elements:
            if e.id == id:
                return e
        raise KeyError(id)
