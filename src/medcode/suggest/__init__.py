"""Case2Code: the codes a clinical note supports.

``suggest(kb, text)`` reads the note (sections, sentences, context per mention), finds diagnoses
(``suggest.diagnoses``) and procedures (``suggest.procedures``), applies the coding rules
(``language.coding``), orders the codes as a coder reports them and keeps those that exist and are
billable on the date of service.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace
from datetime import date
from functools import cache
from typing import Any

from medcode.kb.store import KnowledgeBase
from medcode.language import coding
from medcode.language.context import Context, assess
from medcode.language.note import Note, read
from medcode.suggest.facts import diagnosis_facts
from medcode.suggest.model import Evidence, Suggested, Suggestion
from medcode.suggest.procedures import suggest_procedures
from medcode.vocab import tsv

__all__ = ["Evidence", "Suggested", "Suggestion", "suggest"]

SETTINGS = (None, "office", "facility")
# Reporting order of diagnoses by the section that names them: the reason for the encounter first.
SECTION_RANK = {
    "postoperative_diagnosis": 0,
    "assessment": 1,
    "assessment_plan": 1,
    "impression": 1,
    "preoperative_diagnosis": 2,
    "indications": 3,
    "chief_complaint": 4,
}
OTHER_SECTION_RANK = 5
ASSESSMENT_RANK = 2  # sections ranked up to this one name the diagnoses of the encounter


def suggest(
    kb: KnowledgeBase, text: str, *, day: date | None = None, setting: str | None = None, include_all: bool = False
) -> Suggestion:
    """The codes ``text`` supports on ``day`` (None: the newest releases); ``setting`` is "office" or
    "facility" (None: office). ``include_all`` adds the candidates below the threshold."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be 'office' or 'facility', not {setting!r}")
    note = read(text)
    procedures, proc_candidates, notices = suggest_procedures(kb, note, day, setting, include_all)
    diagnoses, dx_candidates = _diagnoses(kb, note, day, include_all, notices, procedures)
    candidates = (*dx_candidates, *proc_candidates) if include_all else ()
    return Suggestion(tuple(diagnoses), tuple(procedures), tuple(dict.fromkeys(notices)), candidates)


def _sentence_at(note: Note, offset: int) -> int:
    starts = [s.start for s in note.sentences]
    return max(0, bisect.bisect_right(starts, offset) - 1)


def _dx(note: Note, item: Any, gated: bool = False) -> coding.Dx:
    """A diagnosis candidate with the context of its evidence (an affirmed mention wins). ``gated``: the
    note is a narrative (``narrative``)."""
    evidence: tuple[Evidence, ...] = tuple(item.evidence)
    contexts = [(e, assess(note, e.start, e.end)) for e in evidence]
    affirmed = [
        (e, c) for e, c in contexts if not (c.negated or c.uncertain or c.historical or c.family or c.hypothetical)
    ]
    chosen = affirmed or contexts
    context = chosen[0][1] if chosen else Context()
    if gated and getattr(item, "source", "") == "model":
        # in a narrative note the model's code stands on the whole note's affirmed words (``suggest.affirmed``),
        # not on the one sentence shown as its evidence: a negation there does not undo it (its history or
        # family does); an encounter note with sections is read as before, sentence by sentence
        context = replace(context, negated=False, hypothetical=False)
    if chosen:  # the side and encounter any of the chosen mentions states
        side = next((c.laterality for _, c in chosen if c.laterality), None)
        visit = next((c.encounter for _, c in chosen if c.encounter), None)
        context = replace(context, laterality=side, encounter=visit)
    ranked = (
        sorted(
            (SECTION_RANK.get(note.sentences[_sentence_at(note, e.start)].section, OTHER_SECTION_RANK), e.start)
            for e, _ in chosen
        )
        if note.sentences
        else []
    )
    section_rank, position = ranked[0] if ranked else (OTHER_SECTION_RANK, len(note.text))
    section = next((k for k, v in SECTION_RANK.items() if v == section_rank), "other")
    return coding.Dx(item.code, float(item.score), evidence, item.why, context, section, position)


def _words(note: Note, dx: coding.Dx) -> str:
    if not note.sentences:
        return note.text.lower()
    idx = sorted({_sentence_at(note, e.start) for e in dx.evidence if hasattr(e, "start")})
    return " ".join(note.sentences[i].text for i in idx).lower() or note.text.lower()


@cache
def _places() -> dict[str, str]:
    return {r["prefix"]: r["place"] for r in tsv.read("reporting_order.tsv", ("prefix", "place"))}


PLACE_RANK = {"first": 0, None: 1, "last": 2}


def _order(dx: coding.Dx) -> tuple[int, int, int, float, int]:
    """Reporting order: place (vocab/reporting_order.tsv), section, acute before chronic, the note's order;
    at the same place a combination code comes before the codes of its parts (its "use additional code")."""
    place = PLACE_RANK[_longest_prefix(_places(), dx.code)]
    combined = 0 if dx.rule in {c.name for c in coding.combinations()} else 1
    section = SECTION_RANK.get(dx.section, OTHER_SECTION_RANK)
    return place, section, int(coding.is_chronic(dx.code)), dx.position, combined


def _placed(note: Note, dx: coding.Dx) -> coding.Dx:
    """A code a combination rule made stands where the best placed of its conditions stood."""
    if not dx.rule or dx.rule not in {c.name for c in coding.combinations()} or not note.sentences:
        return dx
    best = min(
        (SECTION_RANK.get(note.sentences[_sentence_at(note, e.start)].section, OTHER_SECTION_RANK), e.start)
        for e in dx.evidence
    )
    section = next((k for k, v in SECTION_RANK.items() if v == best[0]), "other")
    return replace(dx, section=section, position=best[1])


@cache
def _symptom_prefixes() -> dict[str, str]:
    return {r["prefix"]: r["scope"] for r in tsv.read("symptom_codes.tsv", ("prefix", "scope"))}


def symptoms(items: list[coding.Dx], gate: float | None = None) -> list[coding.Dx]:
    """Signs and symptoms a definitive diagnosis accounts for are not reported (``vocab/symptom_codes.tsv``);
    with a ``gate`` (``language.coding``), one whose confidence reaches it is."""
    scope = {d.code: _longest_prefix(_symptom_prefixes(), d.code) for d in items}
    definitive = [d for d in items if scope[d.code] is None]
    named = [d for d in definitive if SECTION_RANK.get(d.section, OTHER_SECTION_RANK) <= ASSESSMENT_RANK]
    out = []
    for d in items:
        s = scope[d.code]
        if coding.confident(d, gate):  # the evidence supports reporting it on its own
            out.append(d)
            continue
        if s == "alone" and len(items) > 1:
            continue
        if s == "integral" and named and SECTION_RANK.get(d.section, OTHER_SECTION_RANK) > ASSESSMENT_RANK:
            continue
        out.append(d)
    return out


def narrative(note: Note) -> bool:
    """The note is a narrative with no section headers (a case report, a letter), not an encounter note with
    sections (assessment, procedure, indications...) that states what was found and done: the coding rules
    judge a narrative's candidates with a confidence gate (``language.coding``), as its candidates stand on
    the whole text's evidence."""
    return all(s.name == "other" for s in note.sections)


def _longest_prefix(prefixes: dict[str, str], code: str) -> str | None:
    return next((prefixes[code[:n]] for n in range(len(code), 0, -1) if code[:n] in prefixes), None)


@cache
def _reasons() -> tuple[tuple[frozenset[str], re.Pattern[str], str, str], ...]:
    rows = tsv.read("encounter_reasons.tsv", ("procedures", "when", "code", "why"))
    return tuple((frozenset(r["procedures"].split()), re.compile(r["when"]), r["code"], r["why"]) for r in rows)


def encounter_reasons(note: Note, procedures: list[Suggested]) -> list[coding.Dx]:
    """Z codes the services themselves give the reason of (``vocab/encounter_reasons.tsv``)."""
    low = note.text.lower()
    out: list[coding.Dx] = []
    done: set[frozenset[str]] = set()
    for codes, when, code, why in _reasons():
        hit = next((p for p in procedures if p.code in codes), None)
        if hit is None or codes in done or not when.search(low):
            continue
        done.add(codes)
        position = hit.evidence[0].start if hit.evidence else 0
        out.append(coding.Dx(code, 0.8, hit.evidence, why, Context(), "assessment", position, "encounter reason"))
    return out


def _diagnoses(
    kb: KnowledgeBase,
    note: Note,
    day: date | None,
    include_all: bool,
    notices: list[str],
    procedures: list[Suggested] | None = None,
) -> tuple[list[Suggested], list[Suggested]]:
    try:
        from medcode.suggest.diagnoses import diagnose
    except ImportError:  # the diagnosis finder is not installed in this build
        notices.append("Diagnoses are not available in this build: only procedures are suggested.")
        return [], []
    found = diagnose(kb, note, day=day, include_all=include_all)
    gate = coding.CONFIDENT if narrative(note) else None
    recommended = [_dx(note, f, gate is not None) for f in found if getattr(f, "recommended", True)]
    reasons = encounter_reasons(note, procedures or [])
    recommended = [d for d in recommended if all(d.code != r.code for r in reasons)] + reasons
    below = [_dx(note, f, gate is not None) for f in found if not getattr(f, "recommended", True)]
    coded = coding.apply(kb, recommended, day, lambda d: _words(note, d), notices, gate)
    coded = sorted((_placed(note, d) for d in symptoms(coded, gate)), key=_order)
    rest = coding.apply(kb, below, day, lambda d: _words(note, d), []) if include_all else []
    rest = [d for d in rest if all(d.code != c.code for c in coded)]
    facts, release_notes = diagnosis_facts(kb, [d.code for d in coded + rest], day)
    notices.extend(release_notes)

    def out(items: list[coding.Dx]) -> list[Suggested]:
        result = []
        for d in items:
            f = facts.get(d.code)
            if f is None or not f.billable:
                continue
            why = d.why if not d.rule or d.rule in d.why else f"{d.why} ({d.rule})"
            conf = round(min(max(d.confidence, 0.0), 1.0), 4)
            result.append(Suggested(d.code, f.description, conf, d.evidence, why, (), "ICD-10-CM"))
        return result

    return out(coded), out(rest)
