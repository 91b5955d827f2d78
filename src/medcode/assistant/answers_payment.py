"""CasePilot answers about payment: RVUs and the Medicare physician fee schedule amount, national
(the code page's amounts: GPCIs of 1) or in a locality (``medcode.pricing.price`` by ZIP or
``MAC-LOC``), non-facility (office) and facility, on the release of the date or year asked (the
newest by default), with the change from the year before where the code page has it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from medcode import rules
from medcode.assistant.answers_facts import STATUS_NAMES, asked_day, cite, link, make, money, no_code, procedure_page
from medcode.assistant.model import Answer, Citation, Question
from medcode.codes import UnknownCode
from medcode.kb import models
from medcode.kb.store import KnowledgeBase
from medcode.pricing import PricingError, price

__all__ = ["ANSWERS", "answer_payment"]


def _amount(value: float | None, na: bool) -> str:
    if value is None and na:
        return "no rate (NA)"
    return money(value)


def _settings(q: Question) -> tuple[str, ...]:
    if q.setting == "office":
        return ("nonfacility",)
    if q.setting == "facility":
        return ("facility",)
    return ("nonfacility", "facility")


LABEL = {"nonfacility": "non-facility (office)", "facility": "facility"}


def _rvus(rvu: models.Rvu, settings: tuple[str, ...]) -> str:
    pe = {"nonfacility": rvu.pe_nonfacility, "facility": rvu.pe_facility}
    total = {"nonfacility": rvu.total_nonfacility, "facility": rvu.total_facility}
    na = {"nonfacility": rvu.nonfacility_na, "facility": rvu.facility_na}
    pes = ", ".join(f"{'NA' if na[s] else pe[s]} {LABEL[s]}" for s in settings)
    totals = ", ".join(f"{'NA' if na[s] else total[s]} {LABEL[s]}" for s in settings)
    return f"RVUs: work {rvu.work}, practice expense {pes}, malpractice {rvu.mp}; total {totals}."


def _pays(pay: models.Payment, rvu: models.Rvu, settings: tuple[str, ...]) -> str:
    values = {"nonfacility": (pay.nonfacility, rvu.nonfacility_na), "facility": (pay.facility, rvu.facility_na)}
    return ", ".join(f"{_amount(*values[s])} {LABEL[s]}" for s in settings)


def _stale(kb: KnowledgeBase, q: Question) -> tuple[str | None, str]:
    """A sentence when no fee schedule of the date or year asked is loaded, and the confidence."""
    day = asked_day(kb, q)
    r = kb.resolve("pprrvu", day)
    if r is None or day is None or r.in_force:
        return None, "high"
    asked = q.day.isoformat() if q.day else str(q.year)
    rel = r.release
    if day > rel.effective_to and day.year > rel.effective_to.year:
        return (
            f"No physician fee schedule for {asked} is loaded: the newest is {rel.name}, effective "
            f"{rel.effective_from.isoformat()} to {rel.effective_to.isoformat()} ({rel.effective_from.year}). "
            f"These are its {rel.effective_from.year} figures, not {asked}'s.",
            "low",
        )
    return (
        f"The fee schedule release in force on {asked} is not loaded; these figures are from {rel.name} "
        f"(effective {rel.effective_from.isoformat()} to {rel.effective_to.isoformat()}).",
        "medium",
    )


_YEAR = re.compile(r"\b(20[0-9]{2})\b")


def answer_payment(kb: KnowledgeBase, q: Question) -> Answer:
    if not q.codes:
        return no_code("payment", q)
    years = {int(y) for y in _YEAR.findall(q.text)}
    if len(years) > 1 and q.day is None:  # "from 2025 to 2026": the later year, with the change from the year before
        q = replace(q, year=max(years))
    said: list[str] = []
    cites: list[Citation | None] = []
    codes: list[str] = []
    notices: list[str] = []
    stale, confidence = _stale(kb, q)
    if stale:
        said.append(stale)
    settings = _settings(q)
    day = asked_day(kb, q)
    for code in q.codes[:3]:
        page = procedure_page(kb, code, q)
        if page is None:
            said.append(f"{code} is not a CPT or HCPCS code in the files loaded.")
            confidence = "low"
            continue
        codes.append(page.code)
        said.extend(_one(kb, q, page, settings, day, cites, notices))
    if not codes:
        return no_code("payment", q)
    if q.place and not (q.zip or q.locality):
        place = q.place.upper() if len(q.place) == 2 else q.place.title()
        said.append(
            f"{place} is not one payment locality (a state with several, or a place not in the locality files): "
            "the amounts are national; name a city, a ZIP code or a locality (MAC-LOC) for a local amount."
        )
        confidence = "medium" if confidence == "high" else confidence
    first = codes[0]
    return make(
        "payment",
        said,
        codes,
        cites,
        (
            f"What does {first} pay in Manhattan?"
            if not (q.zip or q.locality)
            else f"What does {first} pay nationally?",
            f"What is the global period of {first}?",
            f"What is the MUE for {first}?",
        ),
        confidence=confidence,
        notices=notices,
    )


def _one(
    kb: KnowledgeBase,
    q: Question,
    page: models.ProcedureCode,
    settings: tuple[str, ...],
    day: date | None,
    cites: list[Citation | None],
    notices: list[str],
) -> list[str]:
    code = page.code
    modifier = rules.pfs_modifier(q.modifiers.get(code, ()))
    row: models.ModifierRow | None = next((m for m in page.modifiers if m.modifier == modifier), None)
    shown = f"{code}-{modifier}" if modifier else code
    if modifier and row is None:
        return [
            f"{code} has no {modifier} row in the fee schedule {page.release or ''}; "
            f"{modifier} does not change its RVUs."
        ]
    rvu = row.rvu if row else page.rvu
    pay = row.payment if row else page.payment
    status = row.status if row else (page.status.code if page.status else None)
    cf = row.conversion_factor if row else page.conversion_factor
    source = row.citation if row else (page.sources[0] if page.sources else None)
    if rvu is None or pay is None or status is None:
        return [
            f"{shown} has no row in the physician fee schedule{f' {page.release}' if page.release else ''}: "
            "no RVUs or payment."
        ]
    cites.append(cite(source, link(code, "payment")))
    said = [f"{shown} in {page.release} (status {status}, {STATUS_NAMES.get(status, '')}; conversion factor {cf}):"]
    if pay.note:
        said.append(f"{pay.note}: the Medicare contractor sets the amount; there is no national amount.")
    elif status not in rules.NATIONALLY_PRICED_STATUSES:
        said.append(f"status {status} is not paid under the physician fee schedule.")
    elif q.zip or q.locality:
        try:
            p = price(kb, code, zip_code=q.zip, locality=q.locality, day=day, modifier=modifier)
        except (PricingError, UnknownCode) as e:
            said.append(f"I could not price it in that place ({e}). National: {_pays(pay, rvu, settings)}.")
        else:
            loc = p.locality
            paid = {"nonfacility": p.nonfacility, "facility": p.facility}
            na = {"nonfacility": rvu.nonfacility_na, "facility": rvu.facility_na}
            where = f"{loc.name.title()} ({loc.state})"
            amounts = ", ".join(f"{_amount(paid[s], na[s])} {LABEL[s]}" for s in settings)
            said.append(
                f"In {where} it pays {amounts} (GPCIs work {p.gpci.work}, practice expense {p.gpci.pe}, "
                f"malpractice {p.gpci.mp}). National: {_pays(pay, rvu, settings)}."
            )
            cites.extend(cite(s, link(code, "payment")) for s in p.sources)
            notices.extend(p.notices)
    else:
        said.append(f"National payment: {_pays(pay, rvu, settings)}.")
    said.append(_rvus(rvu, settings))
    prev = page.previous_year
    if prev is not None and not modifier and status in rules.NATIONALLY_PRICED_STATUSES:
        before = _pays(prev.payment, prev.rvu, settings)
        change = []
        if "nonfacility" in settings and prev.change_nonfacility is not None:
            pct = f" ({prev.change_nonfacility_pct:+g}%)" if prev.change_nonfacility_pct is not None else ""
            change.append(f"{prev.change_nonfacility:+,.2f} dollars non-facility{pct}")
        if "facility" in settings and prev.change_facility is not None:
            change.append(f"{prev.change_facility:+,.2f} dollars facility")
        said.append(
            f"In {prev.release} (the year before) the national amount was {before}"
            f"{'; the change is ' + ', '.join(change) if change else ''}."
        )
        cites.extend(cite(s, link(code, "payment")) for s in page.sources if s.release == prev.release)
    return said


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {"payment": answer_payment}
