"""The multiple-procedure rules of the PFS (``rules.MULTIPLE_PROCEDURE_REDUCTION``) and status T
over the priced lines of one date: one implementation, which the per-claim repricer calls for
every date and the batch engine for the dates it does not price by joins."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from medcode.rules import ALONE_ONLY_STATUSES, MULTIPLE_PROCEDURE_REDUCTION, STANDARD_MULTIPLE_PROCEDURE

ZERO = Decimal(0)


class Parts(NamedTuple):
    """What pricing knows of one unit of a code's row in a locality and setting."""

    rate: float | None  # the fee schedule amount (None: no national amount)
    status: str  # of the row priced ('' when the file has no row)
    modifier: str  # the row priced ('' for the code's own row)
    pe: Decimal  # the practice expense in the amount, PE RVU x PE GPCI x CF (for the therapy rule)
    tc: Decimal  # the technical component in the amount (the TC row's amount for a global row)
    pc: Decimal  # the professional component in the amount
    endo_base: str
    base_rate: Decimal | None  # the endoscopic base code's amount in the same setting


def percent(share: Decimal) -> str:
    """A share as people write it: 16%, 13.6%, 150%."""
    return f"{(share * 100).normalize():f}%"


@dataclass(frozen=True)
class Service:
    """A priced line of one day, for the multiple-procedure rules."""

    line: int
    indicator: str  # multiple procedure indicator of the row priced
    units: Decimal
    amount: Decimal  # units x rate x shares
    share: Decimal  # the shares (bilateral, assistant, co-surgeon) in ``amount``
    parts: Parts
    code: str

    @property
    def per_unit(self) -> Decimal:
        return self.amount / self.units


STANDARD_KEPT = 1 - MULTIPLE_PROCEDURE_REDUCTION["2"]["all"]  # of the second and later procedures
STANDARD_FIRST = f"multiple procedure: 100% first, {percent(STANDARD_KEPT)} rest"
STANDARD_REST = f"multiple procedure {percent(STANDARD_KEPT)}"
COMPONENT_NAMES = {"pe": "practice expense", "tc": "technical component", "pc": "professional component"}


def multiple_procedures(services: list[Service]) -> dict[int, tuple[Decimal, list[str]]]:
    """The multiple-procedure rules (``rules.MULTIPLE_PROCEDURE_REDUCTION``) over the priced, not
    denied lines of one day: the new amount and the adjustments of each line they change.

    Standard (2 and 3): the highest amount of the day at 100%, every other one (and every further
    unit) at 50%; an endoscopy family (indicator 3 codes with one endoscopic base code, and the base
    code itself) first counts as one procedure, its highest member in full and each other member
    less the base code's amount. Component rules (4, 5, 6, 7): the highest unit's component in
    full, that component of every other unit reduced by the rule's share. A single one-unit
    service is left alone. First of all, a status T line is bundled (0) where another service of
    the day is paid (``rules.ALONE_ONLY_STATUSES``)."""
    out: dict[int, tuple[Decimal, list[str]]] = {s.line: (s.amount, []) for s in services}
    others = [s for s in services if s.parts.status not in ALONE_ONLY_STATUSES]
    if others and len(others) < len(services):
        for s in services:
            if s.parts.status in ALONE_ONLY_STATUSES:
                out[s.line] = (ZERO, [f"status {s.parts.status}: bundled into the other services of the day"])
        services = others
    _standard(services, out)
    for indicator, cuts in MULTIPLE_PROCEDURE_REDUCTION.items():
        for part, cut in cuts.items():
            if part != "all":
                _component([s for s in services if s.indicator == indicator], part, cut, out)
    for s in services:
        if s.indicator not in MULTIPLE_PROCEDURE_REDUCTION and sum(x.units for x in services) > 1:
            out[s.line][1].append(f"multiple procedure indicator {s.indicator} not priced by medcode: paid in full")
    return {n: v for n, v in out.items() if v[1]}


def _standard(services: list[Service], out: dict[int, tuple[Decimal, list[str]]]) -> None:
    standard = [s for s in services if s.indicator in STANDARD_MULTIPLE_PROCEDURE]
    # endoscopy families: indicator 3 lines by base code, with a line of the base code itself
    families: dict[str, list[Service]] = {}
    for s in standard:
        if s.indicator == "3" and s.parts.endo_base and s.parts.base_rate is not None:
            families.setdefault(s.parts.endo_base, []).append(s)
    in_family: dict[int, str] = {}
    for base, members in list(families.items()):
        members += [s for s in services if s.code == base and s not in members]
        if sum(m.units for m in members) <= 1:
            del families[base]
            continue
        in_family.update((m.line, base) for m in members)
    # the items the standard rule ranks: a family, or a line by itself
    items: list[tuple[Decimal, int, list[Service]]] = []
    for base, members in families.items():
        ranked = sorted(members, key=lambda m: (-m.per_unit, m.line))
        total = ZERO
        for i, m in enumerate(ranked):
            base_amount = m.per_unit if m.code == base else (m.parts.base_rate or ZERO) * m.share
            first = m.per_unit if i == 0 else ZERO
            rest = max(m.per_unit - base_amount, ZERO) * (m.units - (1 if i == 0 else 0))
            out[m.line] = (
                first + rest,
                [
                    f"endoscopy family of {base}: 100% first, the rest less {base}"
                    if i == 0
                    else f"endoscopy family of {base}: less {base}"
                ],
            )
            total += first + rest
        items.append((total, ranked[0].line, ranked))
    for s in standard:
        if s.line not in in_family:
            items.append((s.per_unit, s.line, [s]))
    if len(items) == 1 and len(items[0][2]) == 1 and items[0][2][0].units <= 1:
        return
    if not items or (len(items) == 1 and items[0][2][0].line in in_family):
        return
    items.sort(key=lambda x: (-x[0], x[1]))
    for i, (_, _, members) in enumerate(items):
        for m in members:
            amount, notes = out[m.line]
            if m.line in in_family:
                if i > 0:
                    out[m.line] = (amount * STANDARD_KEPT, [*notes, STANDARD_REST])
                continue
            full = m.per_unit if i == 0 else ZERO
            note = STANDARD_FIRST if i == 0 else STANDARD_REST
            out[m.line] = (full + (amount - full) * STANDARD_KEPT, [*notes, note])


def _component(services: list[Service], part: str, cut: Decimal, out: dict[int, tuple[Decimal, list[str]]]) -> None:
    """One component rule over the services of one indicator: every unit after the one with the
    highest component has ``cut`` of that component taken off."""
    having = [s for s in services if getattr(s.parts, part) > 0]
    if sum(s.units for s in having) <= 1:
        return
    ranked = sorted(having, key=lambda s: (-getattr(s.parts, part), s.line))
    for i, s in enumerate(ranked):
        reduced_units = s.units - (1 if i == 0 else 0)
        if reduced_units <= 0:
            continue
        amount, notes = out[s.line]
        off = getattr(s.parts, part) * s.share * cut * reduced_units
        out[s.line] = (
            amount - off,
            [
                *notes,
                f"multiple procedure: {COMPONENT_NAMES[part]} "
                f"{percent(cut)} off{' after the first unit' if i == 0 else ''}",
            ],
        )
