"""Case2Code: the codes a clinical note supports.

``suggest(kb, text)`` reads the note (sections, sentences, context per mention), finds diagnoses
(``suggest.diagnoses``) and procedures (``suggest.procedures``), applies the coding rules
(``language.coding``), orders the codes as a coder reports them and keeps those that exist and are
billable on the date of service.
"""

from __future__ import annotations

import bisect
from datetime import date
from typing import Any

from medcode.kb.store import KnowledgeBase
from medcode.language import coding
from medcode.language.context import Context, assess
from medcode.language.note import Note, read
from medcode.suggest.facts import diagnosis_facts
from medcode.suggest.model import Evidence, Suggested, Suggestion
from medcode.suggest.procedures import suggest_procedures

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
FIRST_LISTED_PREFIXES = ("Z12",)  # an encounter for screening lists the screening code first


def suggest(
    kb: KnowledgeBase, text: str, *, day: date | None = None, setting: str | None = None, include_all: bool = False
) -> Suggestion:
    """The codes ``text`` supports on ``day`` (None: the newest releases); ``setting`` is "office" or
    "facility" (None: office). ``include_all`` adds the candidates below the threshold."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be 'office' or 'facility', not {setting!r}")
    note = read(text)
    procedures, proc_candidates, notices = suggest_procedures(kb, note, day, setting)
    diagnoses, dx_candidates = _diagnoses(kb, note, day, include_all, notices)
    candidates = (*dx_candidates, *proc_candidates) if include_all else ()
    return Suggestion(tuple(diagnoses), tuple(procedures), tuple(dict.fromkeys(notices)), candidates)


def _sentence_at(note: Note, offset: int) -> int:
    starts = [s.start for s in note.sentences]
    return max(0, bisect.bisect_right(starts, offset) - 1)


def _dx(note: Note, item: Any) -> coding.Dx:
    """A diagnosis candidate with the context of its evidence (an affirmed mention wins)."""
    evidence: tuple[Evidence, ...] = tuple(item.evidence)
    contexts = [(e, assess(note, e.start, e.end)) for e in evidence]
    affirmed = [
        (e, c) for e, c in contexts if not (c.negated or c.uncertain or c.historical or c.family or c.hypothetical)
    ]
    chosen = affirmed or contexts
    context = chosen[0][1] if chosen else Context()
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


def _order(dx: coding.Dx) -> tuple[int, int, int, float]:
    first = 0 if dx.code.startswith(FIRST_LISTED_PREFIXES) else 1
    return first, SECTION_RANK.get(dx.section, OTHER_SECTION_RANK), int(coding.is_chronic(dx.code)), dx.position


def _diagnoses(
    kb: KnowledgeBase, note: Note, day: date | None, include_all: bool, notices: list[str]
) -> tuple[list[Suggested], list[Suggested]]:
    try:
        from medcode.suggest.diagnoses import diagnose
    except ImportError:  # the diagnosis finder is not installed in this build
        notices.append("Diagnoses are not available in this build: only procedures are suggested.")
        return [], []
    found = diagnose(kb, note, day=day, include_all=include_all)
    recommended = [_dx(note, f) for f in found if getattr(f, "recommended", True)]
    below = [_dx(note, f) for f in found if not getattr(f, "recommended", True)]
    coded = sorted(coding.apply(kb, recommended, day, lambda d: _words(note, d), notices), key=_order)
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
