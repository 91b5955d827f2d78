"""Services a sentence names as done now (office tests, splints, debridement by depth:
``vocab/office_services.tsv``) and psychotherapy by session time (``vocab/psychotherapy_time.tsv``)."""

from __future__ import annotations

import re
from functools import cache

from medcode.language.note import Note
from medcode.suggest.families import Findings, Found, _ctx, _doing, _ev, _find, _only_side
from medcode.vocab.tsv import read

PROCEDURE_SECTIONS = ("procedure", "procedure_description")
SIDED_FAMILIES = frozenset(
    {"splint", "xray", "hip_prosthesis", "hip_revision", "knee_prosthesis", "knee_revision", "implant_removal"}
)  # the side may be named elsewhere in the note


@cache
def _services() -> list[tuple[str, re.Pattern[str], re.Pattern[str], str, str]]:
    rows = read("office_services.tsv", ("family", "pattern", "needs", "code", "why"))
    return [(r["family"], re.compile(r["pattern"]), re.compile(r["needs"]), r["code"], r["why"]) for r in rows]


@cache
def _psychotherapy() -> list[tuple[int, int, str]]:
    rows = read("psychotherapy_time.tsv", ("code", "from_minutes", "to_minutes"))
    return [(int(r["from_minutes"]), int(r["to_minutes"]), r["code"]) for r in rows]


def services(note: Note, out: Findings) -> None:
    """One code per family: the first sentence of a procedure section that names it, else the first one."""
    chosen: dict[str, tuple[int, Found, int]] = {}
    for i, s in enumerate(note.sentences):
        if not _doing(s):
            continue
        low = s.text.lower()
        for family, pattern, needs, code, why in _services():
            if family in chosen and (chosen[family][0] == 0 or s.section not in PROCEDURE_SECTIONS):
                continue
            m = next(iter(_find(pattern, note, s)), None)
            if m is None or not needs.search(low):
                continue
            side = _ctx(note, s, m).laterality or (_only_side(note) if family in SIDED_FAMILIES else None)
            ev = (_ev(note, s.start + m.start(), s.start + m.end()),)
            rank = 0 if s.section in PROCEDURE_SECTIONS else 1
            chosen[family] = (rank, Found(code, 0.8, ev, why, laterality=side, family=family), i)
    for _, found, i in chosen.values():
        out.codes.append(found)
        out.used.add(i)


_SESSION = re.compile(r"psychotherapy")
_MINUTES = re.compile(r"\b(\d{2,3})\s*(?:minutes|min)\b")


def psychotherapy(note: Note, out: Findings) -> None:
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        m = next(iter(_find(_SESSION, note, s)), None)
        t = _MINUTES.search(low)
        if m is None or t is None or not _doing(s):
            continue
        minutes = int(t.group(1))
        code = next((c for lo, hi, c in _psychotherapy() if lo <= minutes <= hi), None)
        if code is None:
            out.notices.append(f"Psychotherapy of {minutes} minutes is shorter than the least time of a code.")
            return
        ev = (_ev(note, s.start + m.start(), s.start + m.end()), _ev(note, s.start + t.start(), s.start + t.end()))
        out.codes.append(
            Found(code, 0.85, ev, f"Psychotherapy with the patient, {minutes} minutes.", family="psychotherapy")
        )
        out.used.add(i)
        return
