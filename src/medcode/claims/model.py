"""Claims, their lines, findings and checked results: plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from datetime import date as _Date  # (``date`` is also a field name of Claim)

from medcode.kb.models import Citation


@dataclass(frozen=True)
class Problem:
    """Input that could not be read as written: where it is and what is wrong. The line stays on
    the claim (with the field empty) and the problem becomes a ``validity.bad_input`` finding."""

    position: str  # file:line:column, or a JSON path
    field: str
    message: str
    line: int | None = None  # the claim line it belongs to


@dataclass(frozen=True)
class Line:
    line: int  # 1-based position on the claim
    code: str
    modifiers: tuple[str, ...] = ()
    units: float | None = 1
    pointers: tuple[int, ...] = ()  # 1-based positions in Claim.diagnoses
    charge: float | None = None
    date: date | None = None  # the line's date of service (the claim's when missing)


@dataclass(frozen=True)
class Claim:
    id: str
    lines: tuple[Line, ...]
    date: date | None = None
    place_of_service: str | None = None
    provider: str | None = None
    zip_code: str | None = None
    locality: str | None = None
    diagnoses: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    billing_npi: str | None = None  # NPIs as written on the claim (checked by claims.checks.npi)
    rendering_npi: str | None = None
    referring_npi: str | None = None

    def day_of(self, line: Line) -> _Date | None:
        return line.date or self.date


@dataclass(frozen=True)
class Finding:
    id: str  # <check>.<reason>, e.g. addon.no_primary
    severity: str  # deny, warn or info
    lines: tuple[int, ...]
    message: str
    fix: str
    citation: Citation | None = None


@dataclass(frozen=True)
class PricedLine:
    line: int
    code: str
    modifiers: tuple[str, ...]
    units: float | None
    setting: str  # facility or nonfacility
    rate: float | None  # the fee schedule amount for one unit in the locality and setting
    adjustments: tuple[str, ...]  # e.g. "multiple procedure 50%"
    allowed: float | None
    denied: bool


@dataclass(frozen=True)
class CheckedClaim:
    id: str
    findings: tuple[Finding, ...]
    lines: tuple[PricedLine, ...]
    total_allowed: float
    at_risk: float  # allowed amount of the lines a deny finding names
    locality: str | None
    notices: tuple[str, ...] = field(default=())
