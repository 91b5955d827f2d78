"""Office and other outpatient E/M (new patient 99202-99205, established 99211-99215): does the note support
the level billed?

The level is supported by medical decision making (MDM) or by total time on the date of the encounter,
whichever supports the higher code (CMS MLN006764, Evaluation and Management Services Guide):

- ``problems``, ``data`` and ``risk`` are the three elements of MDM, each read at one of
  ``model.MDM_LEVELS`` (minimal, limited or none count as straightforward; ``em_mdm`` reads them). The
  MDM is the level that two of the three elements meet or exceed; its code is ``vocab/em_levels.tsv``'s
  for the patient category of the code billed (new 9920x, established 9921x).
- ``time`` is the total minutes on the date of the encounter the note states ("I spent 32 minutes",
  "total time 45 min", ">50% of this 25 minute visit counseling"); minutes of a procedure, minutes since
  onset and other dates do not count, and the minutes of a separately billed service the note says the
  total includes are taken off. Its code is the highest whose least time in ``vocab/em_time.tsv`` it reaches.

No element is required on its own (catalogue ``required = false``): a visit may be supported by MDM
without time or by time without MDM. Each element is present when the note documents it at any level
(missing, with a query, otherwise; negated when the note's only words for it are negated). The
family's check (``Judged.holds``) is that the code supported reaches the level of the code billed. A
code of the family with no MDM level in ``vocab/em_levels.tsv`` (99211) needs neither MDM nor time.
"""

from __future__ import annotations

import re
from functools import cache

from medcode.audit.catalogue import ElementSpec, Family
from medcode.audit.families import Billed, Judged
from medcode.audit.families.em_mdm import (
    NOT_THIS_VISIT,
    PLAN,
    RISK_RANK,
    Reading,
    data,
    ev,
    kind_terms,
    longest,
    matches,
    number,
    problems,
    status_of,
    terms,
    visit_sentences,
)
from medcode.audit.model import MDM_LEVELS, Element, Level
from medcode.language.note import Note
from medcode.language.text import OTHER
from medcode.suggest.families import em_time_levels
from medcode.suggest.model import Evidence
from medcode.suggest.visits import em_level_code

__all__ = ["RULES", "judge", "office_level", "risk", "stated_patient", "visit_minutes"]

RULES = frozenset({"em_problems", "em_data", "em_risk", "em_time"})
PATIENTS = ("new", "established")
ELEMENT_WORDS = {
    "problems": ("minimal", "low", "moderate", "high"),
    "data": ("minimal", "limited", "moderate", "extensive"),
}
ELEMENT_WORDS["risk"] = ELEMENT_WORDS["problems"]


@cache
def _codes() -> dict[str, tuple[str, int]]:
    """Office E/M code -> (patient category, rank 1-4 = the MDM level it needs), from vocab/em_levels.tsv."""
    return {em_level_code(p, level): (p, i + 1) for p in PATIENTS for i, level in enumerate(MDM_LEVELS)}


# --- total time on the date of the encounter ----------------------------------------------------


def _minutes(m: re.Match[str]) -> int:
    """Minutes of a total-time match: groups ``hr`` (hours: digits, "an" or "one") and ``min`` or ``min2``."""
    groups = m.groupdict()
    hr = groups.get("hr")
    hours = 0.0 if not hr else 1.0 if hr in ("an", "one") else float(hr)
    minutes = groups.get("min") or groups.get("min2")
    return round(hours * 60) + (number(minutes) if minutes else 0)


def visit_minutes(note: Note) -> tuple[int, Evidence] | None:
    """The total minutes of the visit the note states, with the words that state them (None: no total
    time). A statement with "total" wins over others; among equals, the last."""
    t = terms()
    best: tuple[bool, int, Evidence] | None = None
    for s in note.sentences:
        if s.section in NOT_THIS_VISIT:
            continue
        low = s.text.lower()
        taken = [
            (m.start(), m.end(), _minutes(m)) for term in t[("time", "subtract")] for m in term.pattern.finditer(low)
        ]
        separate = any(term.pattern.search(low) for term in t[("time", "separate")])
        for term in t[("time", "total")]:
            for m in term.pattern.finditer(low):
                if any(a <= m.start() < b or m.start() <= a < m.end() for a, b, _ in taken):
                    continue  # the minutes of the separately billed service, not the total
                near = low[max(0, m.start() - 40) : m.end() + 20]
                if any(x.pattern.search(near) for x in t[("time", "exclude")]):
                    continue
                around = low[max(0, m.start() - 10) : m.end() + 30]
                if not separate and any(x.pattern.search(around) for x in t[("time", "procedure")]):
                    continue
                minutes = _minutes(m) - sum(n for a, _, n in taken if a >= m.end())
                said = Evidence(s.start + m.start(), s.start + m.end(), s.text[m.start() : m.end()])
                total = "total" in m.group(0)
                if best is None or total >= best[0]:
                    best = (total, minutes, said)
    return (best[1], best[2]) if best else None


# --- risk of patient management -----------------------------------------------------------------


def risk(note: Note) -> Reading:
    """The risk of the management decided at this visit, from the assessment and plan (or a note without
    sections): the highest level of ``risk`` words; a prescription drug named in the plan, or with a word
    that starts, continues or changes it, is prescription drug management; an over-the-counter one, low."""
    found: list[tuple[int, str, Evidence]] = []
    negated = False

    def add(rank: int, label: str, start: int, end: int, status: str) -> None:
        nonlocal negated
        if status == "present":
            found.append((rank, label, ev(note, start, end)))
        elif status == "negated":
            negated = True

    for s in visit_sentences(note):
        if s.section not in PLAN and s.section != OTHER:
            continue  # the history and the exam report what happened before, not this visit's management
        plan = s.section in PLAN
        low = s.text.lower()
        # precautions ("go to the ER if ...") and, outside the plan, past events ("was admitted") decide nothing
        undecided = any(t.pattern.search(low) for t in kind_terms("risk", "conditional")) or (
            not plan and any(t.pattern.search(low) for t in kind_terms("risk", "past"))
        )
        for level in ("high", "moderate", "low", "minimal"):
            if level != "minimal" and undecided:
                continue
            for t, start, end, status in matches(note, s, "risk", level):
                add(RISK_RANK[level], t.label, start, end, status)
        manage = matches(note, s, "risk", "manage")
        otc = matches(note, s, "risk", "otc")
        drugs = [
            m
            for m in longest(matches(note, s, "risk", "rx") + matches(note, s, "risk", "meds"))
            if not any(o[1] <= m[1] < o[2] or m[1] <= o[1] < m[2] for o in otc)
        ]
        for t, start, end, status in drugs:
            verbs = [v for v in manage if v[3] != "other"]
            if verbs:
                v = min(verbs, key=lambda v: abs(v[1] - start))
                lo, hi = min(start, v[1]), max(end, v[2])
                add(2, t.label, lo, hi, status_of(note, lo, hi))
            elif plan and t.kind == "rx":
                add(2, t.label, start, end, status)
        for t, start, end, status in otc:
            if plan or manage:
                add(1, t.label, start, end, status)
    if not found:
        return Reading(None, negated=negated)
    rank = max(r for r, _, _ in found)
    labels = list(dict.fromkeys(label for r, label, _ in found if r == rank))
    evidence = tuple(e for r, _, e in found if r == rank)
    return Reading(rank, evidence, "; ".join(labels))


# --- the level ----------------------------------------------------------------------------------


def _time_code(patient: str, minutes: int | None) -> str | None:
    if minutes is None:
        return None
    codes = [code for least, code in em_time_levels(patient) if minutes >= least]
    return codes[-1] if codes else None


def office_level(patient: str, readings: dict[str, Reading], minutes: int | None) -> Level:
    """The level of an office visit of a ``patient`` ("new" | "established") from its MDM readings
    (problems, data, risk) and total minutes."""
    ranks = [readings[k].rank or 0 for k in ("problems", "data", "risk")]
    mdm = MDM_LEVELS[sorted(ranks)[1]]
    documented = [readings[k].rank is not None for k in ("problems", "data", "risk")]
    # Straightforward MDM needs a problem addressed (data and risk may be minimal or none), or two elements.
    by_mdm = em_level_code(patient, mdm) if documented[0] or sum(documented) >= 2 else None
    by_time = _time_code(patient, minutes)
    supported = max((c for c in (by_mdm, by_time) if c), key=lambda c: _codes()[c][1], default=None)
    p, d, r = (MDM_LEVELS[rank] for rank in ranks)
    return Level(mdm, p, d, r, minutes, by_mdm, by_time, supported)


def _element(spec: ElementSpec, reading: Reading, words: str) -> Element:
    if reading.rank is None:
        status = "negated" if reading.negated else "missing"
        detail = "The note's only words for it are negated." if reading.negated else ""
        return Element(spec.id, spec.label, status, (), spec.query, spec.required, spec.source, detail)
    detail = f"{words}: {reading.detail}" if reading.detail else words
    return Element(spec.id, spec.label, "present", reading.evidence, None, spec.required, spec.source, detail)


def _summary(billed: str, patient: str, level: Level, holds: bool, stated: str | None) -> str:
    ways = []
    ways.append(
        f"MDM {level.mdm} (problems {level.problems}, data {level.data}, risk {level.risk}) supports {level.by_mdm}"
        if level.by_mdm
        else "MDM is not documented enough to support a level"
    )
    if level.time_minutes is None:
        ways.append("no total time is documented")
    elif level.by_time:
        ways.append(f"total time {level.time_minutes} minutes supports {level.by_time}")
    else:
        ways.append(f"total time {level.time_minutes} minutes is below the least time of any level")
    head = f"{billed} ({patient} patient): " + "; ".join(ways) + "."
    if stated is not None:
        other = f" The note calls the patient {stated}, and {billed} is a code for {patient} patients"
        article = "an" if stated[0] in "aeiou" else "a"
        found = (
            f"; as {article} {stated} patient's visit it supports {level.supported_code}."
            if level.supported_code
            else "."
        )
        head = f"{billed}: " + "; ".join(ways) + "." + other + found
        return head
    if level.supported_code is None:
        return head + f" The note supports no level of office visit, so {billed} is not supported."
    if not holds:
        return head + f" The note supports {level.supported_code}, lower than {billed} billed."
    if level.supported_code != billed:
        return head + f" {billed} is supported; the note would support up to {level.supported_code}."
    return head + f" {billed} is supported."


def stated_patient(note: Note) -> str | None:
    """ "new" or "established" when the note says which in so many words (and not both), else None."""
    t = terms()
    low = note.text.lower()
    said = [p for p in PATIENTS if any(x.pattern.search(low) for x in t[("patient", p)])]
    return said[0] if len(said) == 1 else None


def judge(kb: object, note: Note, billed: Billed, family: Family) -> Judged:
    """The elements and level of an office E/M code billed (see the module's docstring)."""
    readings = {"problems": problems(note), "data": data(note), "risk": risk(note)}
    found = visit_minutes(note)
    minutes = found[0] if found else None
    time_reading = Reading(None) if found is None else Reading(0, (found[1],), f"{found[0]} minutes")
    known = _codes().get(billed.code)
    patient = known[0] if known else "established"  # 99211, the one code without a level, is established only
    stated = stated_patient(note)
    mismatch = stated if stated is not None and stated != patient else None
    level = office_level(mismatch or patient, readings, minutes)
    elements = []
    for spec in family.elements:
        if spec.id == "time":
            words = "total time on the date of the encounter"
            if minutes is not None:
                words += f" (supports {level.by_time})" if level.by_time else " (below the least time of any level)"
            elements.append(_element(spec, time_reading, words))
        elif spec.id in readings:
            r = readings[spec.id]
            words = ELEMENT_WORDS[spec.id][r.rank] if r.rank is not None else ""
            elements.append(_element(spec, r, words))
    supported = level.supported_code
    if mismatch is not None:
        summary = _summary(billed.code, patient, level, False, mismatch)
        return Judged(tuple(elements), level, supported, False, summary)
    if known is None:
        summary = f"{billed.code} needs neither a level of MDM nor a time; " + (
            f"the note would support {supported}." if supported else "the visit is supported."
        )
        return Judged(tuple(elements), level, None, True, summary)
    holds = supported is not None and _codes()[supported][1] >= known[1]
    suggested = supported if supported != billed.code else None
    return Judged(tuple(elements), level, suggested, holds, _summary(billed.code, patient, level, holds, None))
