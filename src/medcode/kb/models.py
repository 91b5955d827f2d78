"""Plain, frozen values that lookups return. No I/O here.

orjson serialises these dataclasses directly, so the JSON API is these fields, as named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Citation:
    """Where a fact comes from: file, release, and the row key (and line where known)."""

    family: str
    release: str
    file: str
    effective_from: date
    effective_to: date
    sha256: str
    row: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Indicator:
    code: str
    meaning: str | None


@dataclass(frozen=True)
class Rvu:
    work: float | None
    pe_nonfacility: float | None
    pe_facility: float | None
    mp: float | None
    total_nonfacility: float | None
    total_facility: float | None
    nonfacility_na: bool = False
    facility_na: bool = False


@dataclass(frozen=True)
class Payment:
    nonfacility: float | None
    facility: float | None
    note: str | None = None  # "contractor priced" (status C and R: the MAC sets the amount)


@dataclass(frozen=True)
class Locality:
    mac: str
    locality: str
    name: str
    state: str
    counties: str | None = None

    @property
    def key(self) -> str:
        return f"{self.mac}-{self.locality}"


@dataclass(frozen=True)
class Gpci:
    work: float
    pe: float
    mp: float
    work_floor: bool  # True when the 1.0 work GPCI floor applies


@dataclass(frozen=True)
class OppsCap:
    applied: bool
    facility: float | None
    nonfacility: float | None
    note: str | None = None


@dataclass(frozen=True)
class Price:
    code: str
    modifier: str
    date: date
    release: str
    locality: Locality
    gpci: Gpci
    rvu: Rvu
    conversion_factor: float
    nonfacility: float | None
    facility: float | None
    formula: str
    opps_cap: OppsCap | None
    notices: tuple[str, ...]
    sources: tuple[Citation, ...]


@dataclass(frozen=True)
class AddOn:
    type: str
    type_meaning: str | None
    primary_codes: tuple[str, ...]
    effective: str | None
    citation: Citation


@dataclass(frozen=True)
class Mue:
    units: int
    mai: str
    mai_meaning: str | None
    rationale: str
    citation: Citation


@dataclass(slots=True)
class PtpPair:
    """One PTP edit (a plain slotted class: code pages list hundreds of them)."""

    column_1: str
    column_2: str
    modifier: int
    effective: int | None
    deleted: int | None
    rationale: str


@dataclass(frozen=True)
class Ptp:
    release: str
    note: str | None
    as_column_1: tuple[PtpPair, ...]
    as_column_2: tuple[PtpPair, ...]
    column_1_count: int  # all edits in force; the lists hold the first ``limit`` of each
    column_2_count: int
    limit: int
    modifier_meanings: dict[str, str]
    citation: Citation


@dataclass(frozen=True)
class PtpPage:
    """A page of one code's PTP edits in one direction (``ptp_pairs``)."""

    code: str
    direction: str
    release: str | None
    note: str | None
    total: int
    offset: int
    limit: int
    pairs: tuple[PtpPair, ...]
    citation: Citation | None


@dataclass(frozen=True)
class CodeRef:
    """Another code named on a page, with its short description (empty when not on file)."""

    code: str
    description: str


@dataclass(frozen=True)
class ModifierRow:
    """A fee schedule row of the code with a modifier (26, TC, 53): its own status, RVUs,
    indicators and payment."""

    modifier: str
    description: str
    status: str
    rvu: Rvu
    payment: Payment
    status_meaning: str | None = None
    conversion_factor: float | None = None
    global_period: Indicator | None = None
    indicators: dict[str, Indicator] = field(default_factory=dict)
    endoscopic_base: CodeRef | None = None
    citation: Citation | None = None


@dataclass(frozen=True)
class YearChange:
    release: str
    rvu: Rvu
    conversion_factor: float | None
    payment: Payment
    change_nonfacility: float | None
    change_facility: float | None
    change_nonfacility_pct: float | None


@dataclass(frozen=True)
class GlobalShares:
    """How the PPRRVU row splits a global surgical package (columns 107-115), as fractions of
    the global amount (0.1 is 10%, the file's ".10"): ``intraop`` includes the post-operative care
    in the hospital, ``postop`` is the care in the office after discharge. Labels:
    ``rules.GLOBAL_SHARE_NAMES``."""

    preop: float
    intraop: float
    postop: float

    def percents(self) -> dict[str, str]:
        """``{"preop": "10%", "intraop": "69%", "postop": "21%"}``: each share as a percentage."""
        return {k: f"{round(getattr(self, k) * 100, 1):g}%" for k in ("preop", "intraop", "postop")}


@dataclass(frozen=True)
class ProcedureCode:
    code: str
    system: str  # CPT or HCPCS
    description: str
    plain_description: str | None  # the short descriptor with its abbreviations written out
    long_description: str | None
    status: Indicator | None
    release: str | None
    date: date | None
    rvu: Rvu | None
    global_period: Indicator | None
    indicators: dict[str, Indicator]
    conversion_factor: float | None
    payment: Payment | None
    price: Price | None
    addon: AddOn | None
    addon_codes: tuple[str, ...]
    mue: Mue | None
    ptp: Ptp | None
    asc: dict[str, Any] | None
    opps_cap: dict[str, Any] | None
    lab: dict[str, Any] | None
    dmepos: dict[str, Any] | None
    asp: dict[str, Any] | None
    modifiers: tuple[ModifierRow, ...]
    previous_year: YearChange | None
    notices: tuple[str, ...]
    sources: tuple[Citation, ...]
    # PPRRVU "endoscopic base code" of a code with multiple procedure indicator 3
    endoscopic_base: CodeRef | None = None
    # the pre-, intra- and post-operative shares of the global package: None where the row has
    # none (all zero: global period 000, XXX, ZZZ ...) or there is no row
    global_shares: GlobalShares | None = None


@dataclass(frozen=True)
class DiagnosisNote:
    type: str
    text: str
    source_code: str  # the code, block or chapter the note is written under


@dataclass(frozen=True)
class DiagnosisRef:
    code: str
    description: str
    billable: bool = False
    kind: str = ""


@dataclass(frozen=True)
class DiagnosisCode:
    code: str
    system: str  # ICD-10-CM
    description: str
    kind: str
    billable: bool
    status: str  # "billable" or "header"
    release: str
    date: date | None
    chapter: DiagnosisRef
    block: DiagnosisRef
    parents: tuple[DiagnosisRef, ...]
    children: tuple[DiagnosisRef, ...]
    inclusion_terms: tuple[str, ...]
    notes: tuple[DiagnosisNote, ...]
    excludes1: tuple[DiagnosisNote, ...]
    excludes2: tuple[DiagnosisNote, ...]
    code_first: tuple[DiagnosisNote, ...]
    use_additional_code: tuple[DiagnosisNote, ...]
    code_also: tuple[DiagnosisNote, ...]
    seventh_characters: dict[str, str]
    notices: tuple[str, ...]
    sources: tuple[Citation, ...] = field(default_factory=tuple)
    # a code with a 7th character: the inclusion terms of its base code (the code without it)
    base_inclusion_terms: tuple[DiagnosisNote, ...] = ()


@dataclass(frozen=True)
class Expansion:
    """A word of the query searched for in other words too."""

    typed: str
    searched: str
    kind: str  # synonym, abbreviation or spelling


@dataclass(frozen=True)
class SearchHit:
    code: str
    system: str  # CPT, HCPCS, ICD-10-CM or modifier
    description: str
    plain_description: str | None
    status: str | None
    active: bool
    billable: bool
    score: float
    why: str  # "exact code", "code prefix", "code range" or "words"
    matched: tuple[str, ...]  # the query's words (or phrases) found in the code's text
    expansions: tuple[Expansion, ...]  # the expansions that found it


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: tuple[SearchHit, ...]
    expansions: tuple[Expansion, ...]  # every expansion the query was given
    notices: tuple[str, ...]
