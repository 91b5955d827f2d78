"""Medicare physician fee schedule payment: RVUs x GPCIs x conversion factor.

    payment = [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF

with the non-facility or facility PE RVU, rounded half-up to the cent at the end. The work GPCI
with the 1.0 floor applies where the file gives only that one (2025) and to dates of service up
to 2026-01-31 (the floor's last extension); later dates use the GPCI without the floor. Where the
row carries OPPS PE and MP RVUs (the OPPS imaging cap), the same formula with those RVUs gives the
OPPS amount, and the lower of the two is paid. Status R and C codes are contractor priced: no
national amount (``medcode.rules``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from medcode.codes import UnknownCode, suggest
from medcode.kb.models import Citation, Gpci, Locality, OppsCap, Price, Rvu
from medcode.kb.releases import Resolved, SourceRef
from medcode.kb.store import KnowledgeBase
from medcode.rules import CONTRACTOR_PRICED, CONTRACTOR_PRICED_STATUSES, NATIONALLY_PRICED_STATUSES

WORK_FLOOR_LAST_DAY = date(2026, 1, 31)
PAYABLE_STATUSES = NATIONALLY_PRICED_STATUSES  # statuses with a national amount
NO_GPCI = Gpci(1.0, 1.0, 1.0, False)
_ZIP = re.compile(r"\d{5}(-?\d{4})?")
_LOCALITY = re.compile(r"(\d{5})-(\d{2})")


class PricingError(ValueError):
    """Input that cannot be priced (bad ZIP or locality, no RVUs)."""


class UnknownLocality(PricingError):
    pass


def cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def dec(value: float | None) -> Decimal:
    return Decimal(repr(value)) if value is not None else Decimal(0)


def citation(ref: SourceRef, row: str | None = None, line: int | None = None) -> Citation:
    return Citation(ref.family, ref.release, ref.file, ref.effective_from, ref.effective_to, ref.sha256, row, line)


def _need(kb: KnowledgeBase, family: str, day: date | None) -> Resolved:
    resolved = kb.resolve(family, day)
    if resolved is None:
        raise PricingError(f"the knowledge base has no {family} file; ingest one")
    return resolved


def find_locality(
    kb: KnowledgeBase, *, zip_code: str | None = None, locality: str | None = None, day: date | None = None
) -> tuple[Locality, list[str], list[Citation]]:
    """The payment locality for a ZIP code or a ``MAC-LOC`` key, with notices and citations."""
    notices: list[str] = []
    cites: list[Citation] = []
    if zip_code is not None:
        if not _ZIP.fullmatch(zip_code.strip()):
            raise PricingError(f"{zip_code!r} is not a ZIP code (five digits)")
        z = _need(kb, "zip5", day)
        if z.note:
            notices.append(z.note)
        row = kb.query(
            "SELECT mac, locality, state, release_id FROM zip_localities WHERE zip = ? AND release_id = ?",
            (zip_code.strip()[:5], z.release.ids[0]),
        )
        if not row:
            raise UnknownLocality(f"ZIP code {zip_code} is not in the ZIP-to-locality file ({z.release.files[0].file})")
        mac, loc, _state, rid = row[0]
        cites.append(citation(kb.sources[rid], row=zip_code.strip()[:5]))
    elif locality is not None:
        m = _LOCALITY.fullmatch(locality.strip())
        if not m:
            raise PricingError(f"{locality!r} is not a locality; write MAC-LOCALITY, e.g. 13202-01")
        mac, loc = m.group(1), m.group(2)
    else:
        raise PricingError("give a ZIP code or a locality")
    g = _need(kb, "gpci", day)
    row = kb.query(
        "SELECT name, state, release_id FROM gpcis WHERE release_id = ? AND mac = ? AND locality = ?",
        (g.release.ids[0], mac, loc),
    )
    if not row:
        raise UnknownLocality(f"locality {mac}-{loc} is not in {g.release.files[0].file}")
    name, state, _ = row[0]
    counties = None
    lc = kb.resolve("locality", day)
    if lc is not None:
        crow = kb.query(
            "SELECT group_concat(counties, '; ') FROM locality_counties "
            "WHERE release_id = ? AND mac = ? AND locality = ?",
            (lc.release.ids[0], mac, loc),
        )
        counties = crow[0][0] if crow else None
    return Locality(mac, loc, name.rstrip("*"), state, counties), notices, cites


def _gpci(kb: KnowledgeBase, mac: str, loc: str, day: date) -> tuple[Gpci, Citation, str | None]:
    g = _need(kb, "gpci", day)
    row = kb.query(
        "SELECT pw_gpci, pw_gpci_floor, pe_gpci, mp_gpci, line, release_id FROM gpcis "
        "WHERE release_id = ? AND mac = ? AND locality = ?",
        (g.release.ids[0], mac, loc),
    )
    if not row:
        raise UnknownLocality(f"locality {mac}-{loc} is not in {g.release.files[0].file}")
    pw, pw_floor, pe, mp, line, rid = row[0]
    return gpci_of(pw, pw_floor, pe, mp, day), citation(kb.sources[rid], row=f"{mac}-{loc}", line=line), g.note


def gpci_of(pw: float | None, pw_floor: float, pe: float, mp: float, day: date) -> Gpci:
    """The GPCIs that apply on ``day`` (the work floor up to WORK_FLOOR_LAST_DAY)."""
    if pw is None or day <= WORK_FLOOR_LAST_DAY:
        return Gpci(pw_floor, pe, mp, True)
    return Gpci(pw, pe, mp, False)


def amounts(row: tuple, gpci: Gpci, opps: tuple) -> tuple[float | None, float | None, OppsCap | None]:
    """Non-facility and facility payment for an RVU_SQL row (its first ten columns) in a locality,
    and the OPPS cap from ``opps`` (the row's OPPS PE non-facility, PE facility and MP RVUs): None
    where the setting is NA or the status has no national amount; the lower amount where the cap
    applies."""
    rvu, cf, status = rvu_of(row), row[8], row[9]
    if status not in NATIONALLY_PRICED_STATUSES:
        return None, None, None
    nonfac, fac = amount(rvu, gpci, cf, "nonfacility"), amount(rvu, gpci, cf, "facility")
    cap = opps_cap(rvu, opps, gpci, cf, nonfac, fac)
    if cap is not None and cap.applied:
        nonfac, fac = _lower(nonfac, cap.nonfacility), _lower(fac, cap.facility)
    return nonfac, fac, cap


def _lower(pfs: float | None, opps: float | None) -> float | None:
    return pfs if pfs is None or opps is None else min(pfs, opps)


def opps_cap(
    rvu: Rvu, opps: tuple, gpci: Gpci, cf: float | None, nonfac: float | None, fac: float | None
) -> OppsCap | None:
    """The OPPS payment amounts of a row with OPPS RVUs (RVU26B.pdf: the PFS formula with the OPPS
    PE and MP RVUs), ``applied`` where one is below the PFS amount of its setting."""
    pe_nf, pe_f, mp = opps
    if cf is None or not any((pe_nf, pe_f, mp)):
        return None
    orvu = Rvu(rvu.work, pe_nf, pe_f, mp, None, None, rvu.nonfacility_na, rvu.facility_na)
    o_nf, o_f = amount(orvu, gpci, cf, "nonfacility"), amount(orvu, gpci, cf, "facility")
    applied = any(p is not None and o is not None and o < p for p, o in ((nonfac, o_nf), (fac, o_f)))
    return OppsCap(applied, o_f, o_nf, None)


RVU_SQL = (
    "SELECT work, pe_nonfacility, pe_facility, mp, total_nonfacility, total_facility,"
    " pe_nonfacility_na, pe_facility_na, conversion_factor, status, line, description,"
    " opps_pe_nonfacility, opps_pe_facility, opps_mp"
    " FROM rvus WHERE hcpcs = ? AND modifier = ? AND release_id = ?"
)


def rvu_of(row: tuple) -> Rvu:
    return Rvu(row[0], row[1], row[2], row[3], row[4], row[5], row[6] == "NA", row[7] == "NA")


def amount(rvu: Rvu, gpci: Gpci | None, cf: float, setting: str) -> float | None:
    """One payment amount; None where the setting is NA."""
    if setting == "nonfacility":
        if rvu.nonfacility_na:
            return None
        pe = rvu.pe_nonfacility
    else:
        if rvu.facility_na:
            return None
        pe = rvu.pe_facility
    if gpci is None:
        total = rvu.total_nonfacility if setting == "nonfacility" else rvu.total_facility
        return cents(dec(total) * dec(cf))
    value = dec(rvu.work) * dec(gpci.work) + dec(pe) * dec(gpci.pe) + dec(rvu.mp) * dec(gpci.mp)
    return cents(value * dec(cf))


def price(
    kb: KnowledgeBase,
    code: str,
    *,
    zip_code: str | None = None,
    locality: str | None = None,
    day: date | None = None,
    modifier: str = "",
) -> Price:
    """Payment for ``code`` in one locality (found from ``zip_code`` or ``locality``)."""
    code = code.strip().upper()
    loc, notices, cites = find_locality(kb, zip_code=zip_code, locality=locality, day=day)
    return _price_at(kb, code, modifier, loc, day, notices, cites)


def _price_at(
    kb: KnowledgeBase,
    code: str,
    modifier: str,
    loc: Locality,
    day: date | None,
    notices: list[str],
    cites: list[Citation],
) -> Price:
    pfs = _need(kb, "pprrvu", day)
    if pfs.note:
        notices = [*notices, pfs.note]
    row = kb.query(RVU_SQL, (code, modifier, pfs.release.ids[0]))
    if not row:
        raise UnknownCode(
            code, suggest(kb, code), f"{code}{'-' + modifier if modifier else ''} has no RVUs in {pfs.release.name}"
        )
    r = row[0]
    rvu, cf, status = rvu_of(r), r[8], r[9]
    when = day or pfs.release.effective_from
    gpci, gcite, gnote = _gpci(kb, loc.mac, loc.locality, when)
    if gnote:
        notices.append(gnote)
    sources = [citation(kb.sources[pfs.release.ids[0]], row=code, line=r[10]), gcite, *cites]
    if status in CONTRACTOR_PRICED_STATUSES:
        notices.append(f"Status {status}: {CONTRACTOR_PRICED} (the MAC sets the amount; no national amount).")
    elif status not in NATIONALLY_PRICED_STATUSES:
        notices.append(f"Status {status}: not paid under the physician fee schedule.")
    nonfac, fac, cap = amounts(r, gpci, r[12:15])
    if cap is not None and cap.applied:
        lowered = [
            f"${pfs_amount:,.2f} {setting}"
            for setting, pfs_amount, paid in (
                ("non-facility", amount(rvu, gpci, cf, "nonfacility"), nonfac),
                ("facility", amount(rvu, gpci, cf, "facility"), fac),
            )
            if pfs_amount is not None and paid != pfs_amount
        ]
        notices.append(
            f"OPPS imaging cap: the OPPS amount (OPPS PE RVUs {r[12]} non-facility, {r[13]} facility, "
            f"MP {r[14]}) is paid, lower than the PFS amount ({', '.join(lowered)})."
        )
    formula = (
        f"[({rvu.work} x {gpci.work}) + (PE x {gpci.pe}) + ({rvu.mp} x {gpci.mp})] x {cf}"
        f"; PE = {rvu.pe_nonfacility} non-facility, {rvu.pe_facility} facility"
    )
    return Price(
        code,
        modifier,
        when,
        pfs.release.name,
        loc,
        gpci,
        rvu,
        cf,
        nonfac,
        fac,
        formula,
        cap,
        tuple(notices),
        tuple(sources),
    )


def price_all_localities(kb: KnowledgeBase, code: str, *, day: date | None = None, modifier: str = "") -> list[Price]:
    """Payment for ``code`` in every locality of the GPCI file in force, highest first."""
    code = code.strip().upper()
    g = _need(kb, "gpci", day)
    rows = kb.query(
        "SELECT mac, locality, name, state FROM gpcis WHERE release_id = ? ORDER BY mac, locality", (g.release.ids[0],)
    )
    out = [_price_at(kb, code, modifier, Locality(m, lo, n.rstrip("*"), s), day, [], []) for m, lo, n, s in rows]
    out.sort(key=lambda p: (-(p.nonfacility or 0), p.locality.key))
    return out


@dataclass(frozen=True)
class ZipLocality:
    """One row of the ZIP-to-locality file: the ZIP code's state, carrier (MAC) and locality, its rural
    indicator (blank urban, R rural, B super rural) and whether parts of it are priced by ZIP+4."""

    zip: str
    state: str
    mac: str
    locality: str
    rural: str
    plus4: bool
    citation: Citation
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.mac}-{self.locality}"


@dataclass(frozen=True)
class GpciRow:
    """One row of the GPCI file as written: the work GPCI without the 1.0 floor (None where the file
    gives only the floored one) and with it, practice expense and malpractice."""

    mac: str
    state: str
    locality: str
    name: str
    pw: float | None
    pw_floor: float
    pe: float
    mp: float
    citation: Citation
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.mac}-{self.locality}"

    def on(self, day: date) -> Gpci:
        """The GPCIs that apply on ``day``."""
        return gpci_of(self.pw, self.pw_floor, self.pe, self.mp, day)


def zip_locality(kb: KnowledgeBase, zip_code: str, day: date | None = None) -> ZipLocality:
    """The ZIP-to-locality row of a ZIP code (ZIP+4 read as its five digits) in the file in force on
    ``day`` (the newest when None); raises UnknownLocality when the file has no such ZIP code."""
    if not _ZIP.fullmatch(zip_code.strip()):
        raise PricingError(f"{zip_code!r} is not a ZIP code (five digits)")
    z = _need(kb, "zip5", day)
    zip5 = zip_code.strip()[:5]
    row = kb.query(
        "SELECT state, mac, locality, rural, plus4, release_id FROM zip_localities WHERE zip = ? AND release_id = ?",
        (zip5, z.release.ids[0]),
    )
    if not row:
        raise UnknownLocality(f"ZIP code {zip5} is not in the ZIP-to-locality file ({z.release.files[0].file})")
    state, mac, loc, rural, plus4, rid = row[0]
    return ZipLocality(zip5, state, mac, loc, rural.strip(), plus4 == "1", citation(kb.sources[rid], row=zip5), z.note)


_GPCI_ROW_SQL = (
    "SELECT mac, state, locality, name, pw_gpci, pw_gpci_floor, pe_gpci, mp_gpci, line, release_id FROM gpcis"
)


def _gpci_rows(kb: KnowledgeBase, resolved: Resolved, rows: list[tuple]) -> list[GpciRow]:
    return [
        GpciRow(
            mac,
            state,
            loc,
            name.strip().rstrip("*"),
            pw,
            floor,
            pe,
            mp,
            citation(kb.sources[rid], row=f"{mac}-{loc}", line=line),
            resolved.note,
        )
        for mac, state, loc, name, pw, floor, pe, mp, line, rid in rows
    ]


def gpci_row(kb: KnowledgeBase, mac: str, loc: str, day: date | None = None) -> GpciRow:
    """The GPCI file row of locality ``mac``-``loc`` in the file in force on ``day`` (the newest when
    None); raises UnknownLocality when the file has no such locality."""
    g = _need(kb, "gpci", day)
    rows = kb.query(f"{_GPCI_ROW_SQL} WHERE release_id = ? AND mac = ? AND locality = ?", (g.release.ids[0], mac, loc))
    if not rows:
        raise UnknownLocality(f"locality {mac}-{loc} is not in {g.release.files[0].file}")
    return _gpci_rows(kb, g, rows)[0]


def state_localities(kb: KnowledgeBase, state: str, day: date | None = None) -> list[GpciRow]:
    """The GPCI rows of a state (postal abbreviation) in the file in force on ``day``, by MAC and
    locality, followed by the rows of other states' localities that ZIP codes of the state are in
    (Maryland's suburbs of Washington are in the DC locality)."""
    g = _need(kb, "gpci", day)
    state = state.strip().upper()
    own = kb.query(
        f"{_GPCI_ROW_SQL} WHERE release_id = ? AND state = ? ORDER BY mac, locality", (g.release.ids[0], state)
    )
    z = kb.resolve("zip5", day)
    other: list[tuple] = []
    if z is not None:
        other = kb.query(
            f"{_GPCI_ROW_SQL} WHERE release_id = ? AND state <> ? AND (mac, locality) IN "
            "(SELECT DISTINCT mac, locality FROM zip_localities WHERE release_id = ? AND state = ?) "
            "ORDER BY mac, locality",
            (g.release.ids[0], state, z.release.ids[0], state),
        )
    return _gpci_rows(kb, g, own + other)


def state_names(kb: KnowledgeBase, day: date | None = None) -> dict[str, str]:
    """State and territory names (upper case, as the county file writes them) -> postal abbreviation
    of the GPCI file, joined on the locality; empty when no county file is loaded."""
    lc, g = kb.resolve("locality", day), _need(kb, "gpci", day)
    if lc is None:
        return {}
    out: dict[str, str] = {}
    for names, state in kb.query(
        "SELECT DISTINCT c.state, g.state FROM locality_counties c JOIN gpcis g "
        "ON g.release_id = ? AND g.mac = c.mac AND g.locality = c.locality WHERE c.release_id = ?",
        (g.release.ids[0], lc.release.ids[0]),
    ):
        for name in str(names).split("/"):
            if name.strip():
                out.setdefault(name.strip().upper(), state)
    return out
