"""Repricing a checked claim: locality, setting, fee schedule amount, payment adjustments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line, PricedLine
from medcode.kb.models import Locality
from medcode.pricing import WORK_FLOOR_LAST_DAY, PricingError, amounts, cents, find_locality, gpci_of, opps_cap

MPPR_INDICATORS = frozenset({"2"})
ASSISTANT_SHARE = {"80": Decimal("0.16"), "81": Decimal("0.16"), "82": Decimal("0.16"),
                   "AS": Decimal("0.136")}  # AS: 85% of the 16% an assistant surgeon gets
CO_SURGEON_SHARE = Decimal("0.625")
BILATERAL_SHARE = Decimal("1.5")


class Pricer:
    """Fee schedule amounts for claim lines, from the RVU and GPCI files loaded once per release
    and the same formula as ``medcode.pricing.price``."""

    def __init__(self, facts: Facts):
        self.facts = facts
        self._tables: dict[tuple[str, int], dict] = {}
        self._caps: dict[tuple, tuple[float | None, float | None]] = {}  # amounts by code, place, releases
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
        """The amount for one unit of ``code`` (its 26/TC row when ``modifier`` says so)."""
        kb = self.facts.kb
        pfs, gp = kb.resolve("pprrvu", day), kb.resolve("gpci", day)
        if pfs is None or gp is None:
            return None
        rvus = self._table("pprrvu", pfs.release.ids[0], RVUS_SQL)
        row = rvus.get((code, modifier)) or rvus.get((code, ""))
        g = self._table("gpci", gp.release.ids[0], GPCIS_SQL).get((loc.mac, loc.locality))
        if row is None or g is None:
            return None
        when = day or pfs.release.effective_from
        key = (code, modifier, loc, pfs.release.ids[0], gp.release.ids[0], when.year, when <= WORK_FLOOR_LAST_DAY)
        if key not in self._caps:
            cap = opps_cap(kb, code, modifier, loc, when, pfs.release.effective_from.year)
            self._caps[key] = amounts(row, gpci_of(*g, when), cap)
        nonfac, fac = self._caps[key]
        return fac if setting == "facility" else nonfac


RVUS_SQL = ("SELECT hcpcs, modifier, work, pe_nonfacility, pe_facility, mp, total_nonfacility, total_facility, "
            "pe_nonfacility_na, pe_facility_na, conversion_factor, status FROM rvus WHERE release_id = ?")
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
    denied = set()
    for f in findings:
        if f.severity == "deny" and f.lines:
            denied.update(f.lines[:1] if f.id.startswith("ptp.") else f.lines)
    base: dict[int, tuple[Decimal | None, list[str]]] = {}
    rates: dict[int, float | None] = {}
    loc = None
    for line in claim.lines:
        day = claim.day_of(line)
        line_loc, note = pricer.locality(claim.zip_code, claim.locality, day)
        loc = loc or line_loc
        if note and note not in notices:
            notices.append(note)
        rates[line.line], amount, notes = _line_amount(pricer, line, line_loc, day, setting)
        base[line.line] = (amount, notes)
    _multiple_procedures(pricer.facts, claim, base, denied)
    priced, total, at_risk = [], Decimal(0), Decimal(0)
    for line in claim.lines:
        amount, notes = base[line.line]
        is_denied = line.line in denied
        allowed = None if amount is None else (Decimal(0) if is_denied else amount)
        if amount is not None:
            total += allowed
            if is_denied:
                at_risk += amount
        priced.append(PricedLine(line.line, line.code, line.modifiers, line.units, setting, rates[line.line],
                                 tuple(notes), None if allowed is None else cents(allowed), is_denied))
    key = f"{loc.mac}-{loc.locality}" if loc else None
    if loc:
        notices.insert(0, f"locality {key} {loc.name}, {setting} rates")
    return Repriced(priced, cents(total), cents(at_risk), key, notices)


def _pfs_modifier(line: Line) -> str:
    return "26" if "26" in line.modifiers else "TC" if "TC" in line.modifiers else ""


def _line_amount(pricer: Pricer, line: Line, loc: Locality | None, day: date | None,
                 setting: str) -> tuple[float | None, Decimal | None, list[str]]:
    """The fee schedule amount for one unit, the line's amount before multiple-procedure rules,
    and the adjustments made."""
    if loc is None or not line.code:
        return None, None, []
    rate = pricer.rate(line.code, _pfs_modifier(line), loc, day, setting)
    if rate is None:
        return None, None, [f"no {setting} fee schedule amount"]
    if line.units is None:
        return rate, None, []
    amount = Decimal(repr(rate)) * Decimal(repr(line.units))
    notes = []
    pfs = pricer.facts.pfs(line.code, day) or {}
    if "50" in line.modifiers and pfs.get("bilateral") == "1":
        amount *= BILATERAL_SHARE
        notes.append("bilateral 150%")
    for mod, share in ASSISTANT_SHARE.items():
        if mod in line.modifiers:
            amount *= share
            notes.append(f"assistant at surgery {share * 100:g}%")
            break
    if "62" in line.modifiers:
        amount *= CO_SURGEON_SHARE
        notes.append("co-surgeon 62.5%")
    return rate, amount, notes


def _multiple_procedures(facts: Facts, claim: Claim, base: dict, denied: set[int]) -> None:
    """Indicator 2: the highest-paid procedure of the day at 100%, every other one (and every
    further unit) at 50%. Add-on codes carry other indicators and are exempt."""
    by_day: dict[object, list[Line]] = {}
    for line in claim.lines:
        pfs = facts.pfs(line.code, claim.day_of(line)) if line.code else None
        if pfs and pfs["mult_proc"] in MPPR_INDICATORS and base[line.line][0] and line.line not in denied:
            by_day.setdefault(claim.day_of(line), []).append(line)
    for lines in by_day.values():
        if len(lines) == 1 and (lines[0].units or 1) <= 1:
            continue
        per_unit = {x.line: base[x.line][0] / Decimal(repr(x.units)) for x in lines}
        ordered = sorted(lines, key=lambda x: (-per_unit[x.line], x.line))
        for i, line in enumerate(ordered):
            amount, notes = base[line.line]
            full = per_unit[line.line] if i == 0 else Decimal(0)
            reduced = amount - full
            base[line.line] = (full + reduced / 2, [*notes, "multiple procedure: 100% first, 50% rest"
                                                     if i == 0 else "multiple procedure 50%"])
