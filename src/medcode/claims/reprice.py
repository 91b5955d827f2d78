"""Repricing a checked claim: locality, setting, fee schedule amount, payment adjustments.

The rules (shares, statuses, multiple-procedure reductions) are read from ``medcode.rules``; the
multiple-procedure rules are applied by ``medcode.claims.multiple``, which the batch engine calls
too for the dates it does not price by joins.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from medcode import vocab
from medcode.claims.facts import ANSWERS_KEPT, Facts, Lru
from medcode.claims.model import Claim, Finding, Line, PricedLine
from medcode.claims.multiple import ZERO, Parts, Service, multiple_procedures, percent
from medcode.kb.models import Locality
from medcode.pricing import (
    WORK_FLOOR_LAST_DAY,
    PricingError,
    amounts,
    cents,
    find_locality,
    gpci_of,
)
from medcode.rules import (
    ASSISTANT_SHARE,
    BILATERAL_SHARES,
    CO_SURGEON_SHARE,
    CONTRACTOR_PRICED,
    CONTRACTOR_PRICED_STATUSES,
    MULTIPLE_PROCEDURE_REDUCTION,
    pfs_modifier,
)

CENT = Decimal("0.01")


class Pricer:
    """Fee schedule amounts for claim lines, from the RVU and GPCI files loaded once per release
    and the same formula as ``medcode.pricing.price``."""

    def __init__(self, facts: Facts, answers: int = ANSWERS_KEPT):
        self.facts = facts
        self._tables: dict[tuple[str, int], dict] = {}
        # amounts by code, locality and day: as many as a file has codes times localities and days,
        # so kept within a bound like the checks' lookups (``Facts``)
        self._amounts = Lru(answers)
        self._parts = Lru(answers)
        self.locality = lru_cache(maxsize=65536)(self._locality)

    def _locality(self, zip_code: str | None, locality: str | None, day: date | None) -> tuple[Locality | None, str]:
        if not zip_code and not locality:
            return None, "no ZIP code or locality on the claim: lines are not priced"
        try:
            loc, _, _ = find_locality(self.facts.kb, zip_code=zip_code, locality=locality, day=day)
        except PricingError as exc:
            return None, f"not priced: {exc}"
        return loc, ""

    def _table(self, family: str, rid: int, sql: str) -> dict:
        key = (family, rid)
        if key not in self._tables:
            self._tables[key] = {tuple(r[:2]): r[2:] for r in self.facts.kb.query(sql, (rid,))}
        return self._tables[key]

    def rate(self, code: str, modifier: str, loc: Locality, day: date | None, setting: str) -> float | None:
        """The amount for one unit of ``code`` (its 26, TC or 53 row when ``modifier`` names one
        the file has, else its own row)."""
        return self.parts(code, modifier, loc, day, setting).rate

    def parts(self, code: str, modifier: str, loc: Locality, day: date | None, setting: str) -> Parts:
        found: Parts = self._parts.get(
            (code, modifier, loc, day, setting), lambda: self._find_parts(code, modifier, loc, day, setting)
        )
        return found

    def _find_parts(self, code: str, modifier: str, loc: Locality, day: date | None, setting: str) -> Parts:
        kb = self.facts.kb
        pfs = kb.resolve("pprrvu", day)
        none = Parts(None, "", "", ZERO, ZERO, ZERO, "", None)
        if pfs is None:
            return none
        rvus = self._table("pprrvu", pfs.release.ids[0], RVUS_SQL)
        mod = modifier if (code, modifier) in rvus else ""
        row = rvus.get((code, mod))
        if row is None:
            return none
        rate = self._amount(code, mod, loc, day, setting)
        status, pctc, endo = row[9], row[13], row[14]
        if rate is None:
            return Parts(None, status, mod, ZERO, ZERO, ZERO, endo, None)
        dollars = Decimal(repr(rate))
        pe = ZERO
        if "pe" in MULTIPLE_PROCEDURE_REDUCTION.get(row[15], {}):
            pe = self._pe(row, loc, day, setting)
        tc = pc = ZERO
        if pctc == "1":  # a diagnostic test with a professional and a technical component
            if mod == "TC":
                tc = dollars
            elif mod == "26":
                pc = dollars
            elif mod == "":
                tc = _dec(self._amount(code, "TC", loc, day, setting))
                pc = _dec(self._amount(code, "26", loc, day, setting))
        base = None
        if endo:
            base_rate = self._amount(endo, "", loc, day, setting)
            base = None if base_rate is None else Decimal(repr(base_rate))
        return Parts(rate, status, mod, pe, tc, pc, endo, base)

    def _pe(self, row: tuple, loc: Locality, day: date | None, setting: str) -> Decimal:
        """The practice expense part of a row's amount: PE RVU x PE GPCI x CF, not rounded."""
        kb = self.facts.kb
        gp = kb.resolve("gpci", day)
        g = self._table("gpci", gp.release.ids[0], GPCIS_SQL).get((loc.mac, loc.locality)) if gp else None
        pe = row[1] if setting == "nonfacility" else row[2]
        if g is None or pe is None or row[8] is None:
            return ZERO
        return Decimal(repr(pe)) * Decimal(repr(g[2])) * Decimal(repr(row[8]))

    def _amount(self, code: str, mod: str, loc: Locality, day: date | None, setting: str) -> float | None:
        """One unit of a row (None where it has none)."""
        kb = self.facts.kb
        pfs, gp = kb.resolve("pprrvu", day), kb.resolve("gpci", day)
        if pfs is None or gp is None:
            return None
        row = self._table("pprrvu", pfs.release.ids[0], RVUS_SQL).get((code, mod))
        g = self._table("gpci", gp.release.ids[0], GPCIS_SQL).get((loc.mac, loc.locality))
        if row is None or g is None:
            return None
        when = day or pfs.release.effective_from
        gpci = gpci_of(g[0], g[1], g[2], g[3], when)
        key = (code, mod, loc, pfs.release.ids[0], gp.release.ids[0], when.year, when <= WORK_FLOOR_LAST_DAY)
        nonfac, fac = self._amounts.get(key, lambda: amounts(row, gpci, row[10:13])[:2])
        return fac if setting == "facility" else nonfac


def _dec(value: float | None) -> Decimal:
    return ZERO if value is None else Decimal(repr(value))


RVUS_SQL = (
    "SELECT hcpcs, modifier, work, pe_nonfacility, pe_facility, mp, total_nonfacility, total_facility, "
    "pe_nonfacility_na, pe_facility_na, conversion_factor, status, opps_pe_nonfacility, opps_pe_facility, "
    "opps_mp, pctc, endo_base, mult_proc FROM rvus WHERE release_id = ?"
)
GPCIS_SQL = "SELECT mac, locality, pw_gpci, pw_gpci_floor, pe_gpci, mp_gpci FROM gpcis WHERE release_id = ?"


class Repriced(NamedTuple):
    lines: list[PricedLine]
    total_allowed: float
    at_risk: float
    locality: str | None  # MAC-LOCALITY of the first priced line
    notices: list[str]


def reprice(pricer: Pricer, claim: Claim, findings: list[Finding]) -> Repriced:
    """Lines with their allowed amounts, the total allowed, the amount at risk, and notices."""
    notices = []
    setting, pos = "nonfacility", claim.place_of_service
    if pos:
        known = vocab.places_of_service().get(pos.zfill(2))
        if known is None:
            notices.append(f"place of service {pos} is unknown: priced at the non-facility rate")
        else:
            setting = known[0]
    denied: set[int] = set()
    unpriced = {n for f in findings if f.id == "validity.no_release" for n in f.lines}
    for f in findings:
        if f.severity == "deny" and f.lines:
            denied.update(f.lines[:1] if f.id.startswith("ptp.") else f.lines)
    base: dict[int, tuple[Decimal | None, list[str]]] = {}
    rates: dict[int, float | None] = {}
    services: dict[object, list[Service]] = {}
    loc = None
    for line in claim.lines:
        day = claim.day_of(line)
        line_loc, note = pricer.locality(claim.zip_code, claim.locality, day)
        loc = loc or line_loc
        if note and note not in notices:
            notices.append(note)
        # a line dated before the oldest fee schedule (validity.no_release) is not priced at all
        rates[line.line], amount, notes, service = _line_amount(
            pricer, line, None if line.line in unpriced else line_loc, day, setting
        )
        base[line.line] = (amount, notes)
        if service is not None and amount and line.line not in denied:
            services.setdefault(day, []).append(service)
    for day_services in services.values():
        for n, (amount, notes) in multiple_procedures(day_services).items():
            base[n] = (amount, [*base[n][1], *notes])
    priced, total, at_risk = [], Decimal(0), Decimal(0)
    for line in claim.lines:
        amount, notes = base[line.line]
        is_denied = line.line in denied
        amount = None if amount is None else amount.quantize(CENT, ROUND_HALF_UP)  # the totals add the lines
        allowed = None if amount is None else (Decimal(0) if is_denied else amount)
        if amount is not None and allowed is not None:
            total += allowed
            if is_denied:
                at_risk += amount
        priced.append(
            PricedLine(
                line.line,
                line.code,
                line.modifiers,
                line.units,
                setting,
                rates[line.line],
                tuple(notes),
                None if allowed is None else cents(allowed),
                is_denied,
            )
        )
    key = f"{loc.mac}-{loc.locality}" if loc else None
    if loc:
        notices.insert(0, f"locality {key} {loc.name}, {setting} rates")
    return Repriced(priced, cents(total), cents(at_risk), key, notices)


def shares(modifiers: tuple[str, ...] | list[str], bilateral: str | None) -> tuple[Decimal, list[str]]:
    """The product of the payment shares a line's modifiers call for, and their adjustments."""
    share, notes = Decimal(1), []
    if "50" in modifiers and bilateral in BILATERAL_SHARES:
        share *= BILATERAL_SHARES[bilateral]
        notes.append(
            f"bilateral {percent(BILATERAL_SHARES[bilateral])}" + (" (each side at 100%)" if bilateral == "3" else "")
        )
    for mod, part in ASSISTANT_SHARE.items():
        if mod in modifiers:
            share *= part
            notes.append(f"assistant at surgery {percent(part)}")
            break
    if "62" in modifiers:
        share *= CO_SURGEON_SHARE
        notes.append(f"co-surgeon {percent(CO_SURGEON_SHARE)}")
    return share, notes


CONTRACTOR_NOTE = CONTRACTOR_PRICED + " (status {}): no national amount"


def no_amount_note(status: str, setting: str) -> str:
    """The adjustment of a line without a national amount."""
    if status in CONTRACTOR_PRICED_STATUSES:
        return CONTRACTOR_NOTE.format(status)
    return f"no {setting} fee schedule amount"


def _line_amount(
    pricer: Pricer, line: Line, loc: Locality | None, day: date | None, setting: str
) -> tuple[float | None, Decimal | None, list[str], Service | None]:
    """The fee schedule amount for one unit, the line's amount before multiple-procedure rules,
    the adjustments made, and the line as a ``Service`` for those rules."""
    if loc is None or not line.code:
        return None, None, [], None
    parts = pricer.parts(line.code, pfs_modifier(line.modifiers), loc, day, setting)
    if parts.rate is None:
        return None, None, [no_amount_note(parts.status, setting)], None
    if line.units is None:
        return parts.rate, None, [], None
    pfs = pricer.facts.pfs(line.code, day, line.modifiers) or {}
    share, notes = shares(line.modifiers, pfs.get("bilateral"))
    amount = Decimal(repr(parts.rate)) * Decimal(repr(line.units)) * share
    service = Service(line.line, pfs.get("mult_proc") or "", Decimal(repr(line.units)), amount, share, parts, line.code)
    return parts.rate, amount, notes, service
