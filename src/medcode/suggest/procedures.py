"""Procedure codes (CPT/HCPCS) a note supports: the rule families (``suggest.families``,
``suggest.surgery``), then the concept index over the procedure statements no rule explained; then
the codes checked on the date, their modifiers (RT/LT and 50 by the PFS bilateral indicator, 25 on a
visit with a minor procedure the same day) and their reporting order."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from medcode import rules
from medcode.kb.store import KnowledgeBase
from medcode.language.context import assess
from medcode.language.note import Note
from medcode.lookup import ptp_between
from medcode.suggest.facts import Facts, procedure_facts
from medcode.suggest.families import PLAN_SECTIONS, Found, find
from medcode.suggest.model import Evidence, Suggested

THRESHOLD = 0.5  # confidence at or above which a procedure code is recommended
LOOKUP_CONFIDENCE = 0.45  # a concept-index match alone (below the threshold: a candidate)
PROCEDURE_SECTIONS = frozenset({"procedure", "procedure_description"})
_VERBS = re.compile(
    r"\b(?:performed|placed|injected|repaired|removed|inserted|aspirated|excised|incised|drained|sutured|"
    r"administered|applied|obtained|reduced|splinted|casted|debrided|biopsied|cauterized|destroyed|ligated|"
    r"underwent|done)\b"
)
# In a procedure section, a procedure may be named by its noun ("1. Removal of the nail").
_NOUNS = re.compile(
    r"\b(?:removal|insertion|repair|excision|debridement|application|injection|biopsy|arthroplasty|reduction|"
    r"fixation|ecg|ekg|electrocardiogram|test|nebuli[sz]\w*|psychotherapy)\b"
)
MINOR_GLOBALS = frozenset({"000", "010"})  # a visit with such a procedure the same day needs modifier 25
# Codes that never put modifier 25 on the visit (vaccines given at a preventive visit: CPT's instruction).
NO_BYPASS_FAMILIES = frozenset({"em", "vaccine"})
SIDE_MODIFIER = {"right": "RT", "left": "LT"}


def statements(note: Note, used: set[int]) -> list[int]:
    """Positions of the sentences that state a procedure done at this encounter, not explained by a rule."""
    out = []
    for i, s in enumerate(note.sentences):
        if i in used or s.section in PLAN_SECTIONS:
            continue
        low = s.text.lower()
        m = _VERBS.search(low) or (_NOUNS.search(low) if s.section in PROCEDURE_SECTIONS else None)
        if m:
            if m is not None:
                c = assess(note, s.start + m.start(), s.start + m.end())
                if c.negated or c.hypothetical or c.historical:
                    continue
            out.append(i)
    return out


def _lookup(kb: KnowledgeBase, note: Note, positions: list[int], notices: list[str]) -> list[Found]:
    """Concept-index matches (CPT/HCPCS) of the procedure statements; none when the index is missing."""
    if not positions:
        return []
    try:
        from medcode.language.index import concept_index
    except ImportError:
        return []
    index: Any = concept_index(kb)
    ready = getattr(index, "semantic_ready", None)
    if callable(ready) and not ready():
        notices.append("The embedding cache is still building: procedure suggestions are lexical.")
    out: list[Found] = []
    for i in positions:
        s = note.sentences[i]
        hits = index.lookup(s.text, k=3, systems=("CPT", "HCPCS"))
        if not hits:
            continue
        top = hits[0]
        side = assess(note, s.start, s.end).laterality
        out.append(
            Found(
                top.code,
                LOOKUP_CONFIDENCE,
                (Evidence(s.start, s.end, s.text),),
                f'The statement matches the descriptor words "{top.text}".',
                laterality=side,
                family="lookup",
            )
        )
    return out


def _modifiers(f: Found, facts: Facts, notices: list[str]) -> tuple[str, ...]:
    mods = list(f.modifiers)
    side = f.laterality
    sided = rules.verdict("bilateral", facts.bilateral, "50") == rules.ALLOWED
    if side is not None and sided:
        if side == "bilateral":
            mods.append("50")
        else:
            mods.append(SIDE_MODIFIER[side])
    elif side is None and f.family == "joint" and not mods:
        notices.append(f"Laterality not stated for {f.code}: no RT or LT modifier.")
    elif side == "bilateral" and facts.bilateral in ("0", "9"):
        notices.append(
            f"{f.code} is done on both sides but modifier 50 does not apply (bilateral indicator {facts.bilateral})."
        )
    return tuple(dict.fromkeys(mods))


def suggest_procedures(
    kb: KnowledgeBase, note: Note, day: date | None, setting: str | None, include_all: bool = False
) -> tuple[list[Suggested], list[Suggested], list[str]]:
    """(recommended, candidates below the threshold, notices). The concept index is asked only for the
    candidates (``include_all``): its matches alone stay below the threshold, and its first use loads it."""
    found = find(note)
    notices = list(found.notices)
    codes = found.codes
    if include_all:
        codes = codes + _lookup(kb, note, statements(note, found.used), notices)
    facts, release_notes = procedure_facts(kb, [f.code for f in codes], day)
    notices.extend(release_notes)
    kept: list[tuple[Found, Facts]] = []
    for f in codes:
        fact = facts.get(f.code)
        if fact is None or not fact.billable:
            continue
        if setting == "facility" and f.family == "drug":
            notices.append(
                f"{f.code}: in a facility the drug is billed by the facility, not on the professional claim."
            )
            continue
        if any(k.code == f.code for k, _ in kept):
            continue
        kept.append((f, fact))
    bypass = _em_bypass(kb, kept, day)
    out: list[tuple[Found, Facts, tuple[str, ...]]] = []
    for f, fact in kept:
        mods = _modifiers(f, fact, notices)
        if f.family == "em" and bypass:
            mods = (*mods, "25")
            notices.append(
                "Modifier 25 on the visit: a separately identifiable E/M on the day of a procedure; the time"
                " documented must not include the procedure's."
            )
        out.append((f, fact, mods))
    out.sort(key=_order)
    recommended: list[Suggested] = []
    candidates: list[Suggested] = []
    for f, fact, mods in out:
        item = Suggested(f.code, fact.description, f.confidence, f.evidence, f.why, mods, fact.system)
        (recommended if f.confidence >= THRESHOLD else candidates).append(item)
    return recommended, candidates, notices


def _em_bypass(kb: KnowledgeBase, kept: list[tuple[Found, Facts]], day: date | None) -> bool:
    """Whether the visit needs modifier 25: a minor or major procedure the same day (global surgery), or a
    code the visit has an NCCI PTP edit with that a modifier may bypass."""
    em = [f.code for f, _ in kept if f.family == "em"]
    others = [(f, fact) for f, fact in kept if f.family not in NO_BYPASS_FAMILIES and f.confidence >= THRESHOLD]
    if not em or not others:
        return False
    if any(fact.global_days in MINOR_GLOBALS or fact.global_days == "090" for _, fact in others):
        return True
    pairs = ptp_between(kb, em + [f.code for f, _ in others], day=day)
    return any(p.modifier == 1 and em[0] in (p.column_1, p.column_2) for p in pairs)


def _order(entry: tuple[Found, Facts, tuple[str, ...]]) -> tuple[int, float]:
    """Procedures by work RVUs (the primary first), add-on codes after them, supplies and drugs last."""
    f, fact, _ = entry
    group = 2 if f.family == "drug" else 1 if fact.global_days == "ZZZ" else 0
    return group, -fact.work_rvu
