"""The generic elements of the documentation audit, derived from the code's data and added to every
code whose family does not define them (a family may define one of these ids to refine it: its label,
query, source and ``patterns`` are then used, and the rule below still decides).

- ``primary_procedure`` (an add-on code: global period ZZZ or a row of the NCCI add-on file, the same
  test as the code page, ``guide.is_addon``). The rule:

  1. an eligible primary is billed with it (one of the add-on file's primary codes for the day; any
     other code billed when the file lists none) and the note describes a procedure done at this
     encounter: present, the evidence is the note's words of that procedure (the family's
     ``patterns`` when it gives them, else the procedure statements, as for ``procedure_described``);
  2. no eligible primary is billed, but the note describes one (the family's ``patterns``; without
     them, a procedure statement whose concept-index match, lexical, is an eligible primary): present, and
     ``detail`` says to bill the primary (the documentation is there; the claim is not complete);
  3. an eligible primary is billed but the note describes no procedure: missing, ``detail`` names it;
  4. otherwise missing.

- ``laterality`` (bilateral indicator 1 or 3, as the code page asks for it, or RT, LT or 50 billed):
  the side the note names, read in the procedure's sentences first (a procedure section or a
  procedure statement), else anywhere outside the history, plan and medication sections. With RT or
  LT the side must agree, with 50 (or RT and LT) both sides must be named; a disagreement is missing
  with ``detail`` saying what the note says.
- ``time`` (the descriptor names a time: ``guide.is_timed``: the short descriptor and medcode's own
  description of the code, ``vocab/lay_*.tsv``, which says "each 15 minutes" for 97110 where the short
  descriptor does not; not on the expanded short descriptor, where "min" of "minimally invasive" reads
  as minutes): the note states minutes, start and stop times, or hours.
- ``procedure_described`` (global period 000, 010 or 090): the note describes the procedure done (a
  sentence with a procedure verb in the past tense, affirmed, outside the history and plan sections,
  or a sentence of a procedure section).
"""

from __future__ import annotations

import re
from typing import Any

from medcode.audit.catalogue import GENERIC_IDS, ElementSpec
from medcode.audit.evidence import Hit, evidence, hit_at, hits, make, section_at, sentence_of
from medcode.audit.families import Billed
from medcode.audit.model import Element
from medcode.guide import is_addon, is_timed
from medcode.language.note import Note
from medcode.suggest.procedures import _VERBS, PROCEDURE_SECTIONS

__all__ = ["DEFAULTS", "GENERIC_IDS", "applies", "element", "elements"]

SIDE_MODIFIERS = frozenset({"RT", "LT", "50"})
LATERALITY_INDICATORS = frozenset({"1", "3"})
GLOBAL_PROCEDURES = frozenset({"000", "010", "090"})
NOT_THIS_VISIT = frozenset(
    {"past_history", "family_history", "plan", "instructions", "allergies", "medications", "social_history"}
)
# Sections telling what happened before the visit (a procedure statement there is not this visit's).
HISTORY_OF_ILLNESS = frozenset({"hpi", "chief_complaint", "ros"})
# Past-tense verbs of a procedure done, beside those of ``suggest.procedures``.
DONE = re.compile(
    r"\b(?:prepped|draped|intubated|advanced|irrigated|reamed|closed|infiltrated|anesthetized|explored|"
    r"visualized|retroflexed|withdrawn|instilled|implanted|exchanged|extracted|excised|harvested|"
    r"dissected|exposed|sent for pathology|reached|deployed|resected|snared|banded|clipped|cannulated|"
    r"cleansed|cleaned|scrubbed|approximated|stapled|"
    # a procedure noun with what it was done with: "single-layer closure with 4-0 nylon"
    r"(?:closure|repair|injection|aspiration|removal|placement|insertion)\s+(?:[\w-]+\s+){0,2}with)\b"
)
# "R knee", "L wrist" (upper case, before a word; not "3 L" of fluid).
_SIDE_LETTER = re.compile(r"(?<![A-Za-z0-9/.])([RL])(?= [A-Za-z]{3,})")
LOOKUP_K = 20  # concept-index candidates read per procedure statement

_SIDES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("right", re.compile(r"\bright\b(?![- ](?:away|now|here|handed|hand dominant|sided heart))")),
    (
        "left",
        re.compile(
            r"\bleft\b(?! (?:in place|open|intact|alone|behind|undisturbed|the (?:office|clinic|room|hospital)|"
            r"to heal|against)\b)(?![- ]handed)"
        ),
    ),
    (
        "bilateral",
        re.compile(
            r"\bbilateral(?:ly)?\b|\bboth (?:sides|knees|hips|shoulders|ankles|wrists|elbows|"
            r"feet|hands|legs|arms|eyes|ears|breasts|lower extremities|upper extremities)\b"
        ),
    ),
)
_TIME = (
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:-\s*)?(?:minutes?|mins?)\b"),
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:hours?|hrs?)\b"),
    re.compile(r"\b(?:half an|an|one|two) hours?\b"),
    re.compile(r"\b\d{1,2}:\d{2}\s*(?:-|to|until|through)\s*\d{1,2}:\d{2}"),
    re.compile(r"\b(?:start|stop|end|begin) time\b"),
)

DEFAULTS: dict[str, ElementSpec] = {
    "primary_procedure": ElementSpec(
        id="primary_procedure",
        label="The primary procedure this add-on code goes with",
        required=True,
        source="NCCI policy manual, chapter I (add-on codes); NCCI add-on code file; PFS global period ZZZ",
        query="Which primary procedure was performed at the same session? An add-on code is paid only with it.",
    ),
    "laterality": ElementSpec(
        id="laterality",
        label="The side treated (right, left or both), agreeing with RT, LT or 50",
        required=True,
        source="CMS Claims Processing Manual, chapter 12 (bilateral surgery); PFS bilateral indicator",
        query="Which side was treated: right, left or both?",
    ),
    "time": ElementSpec(
        id="time",
        label="The time spent, in minutes (the code's descriptor names a time)",
        required=True,
        source="CPT descriptor wording (your PFS file)",
        query="How many minutes did the service take (or its start and stop times)?",
    ),
    "procedure_described": ElementSpec(
        id="procedure_described",
        label="A description of the procedure performed",
        required=True,
        source="CMS Claims Processing Manual, chapter 12 (global surgery); medcode",
        query="Please describe the procedure performed (what was done, where, and how).",
    ),
}


def _ind(page: Any, field: str) -> str | None:
    found = page.indicators.get(field) if page is not None else None
    return found.code if found else None


def _global(page: Any) -> str | None:
    return page.global_period.code if page is not None and page.global_period is not None else None


def _timed(page: Any) -> bool:
    return page is not None and is_timed(page)


def applies(billed: Billed) -> tuple[str, ...]:
    """The generic element ids that apply to the billed code, in GENERIC_IDS order."""
    page = billed.page
    out = []
    if page is not None and is_addon(page):
        out.append("primary_procedure")
    if _ind(page, "bilateral") in LATERALITY_INDICATORS or SIDE_MODIFIERS & set(billed.modifiers):
        out.append("laterality")
    if _timed(page):
        out.append("time")
    if _global(page) in GLOBAL_PROCEDURES:
        out.append("procedure_described")
    return tuple(out)


def _make(
    spec: ElementSpec, note: Note, status: str, found: list[Hit] | tuple[Hit, ...] = (), detail: str = ""
) -> Element:
    return make(spec, status, evidence(note, found), detail)


def _statement_hits(note: Note) -> list[Hit]:
    """The procedure statements of the note (whole sentences), affirmed, done at this encounter: a
    sentence with a procedure verb in the past tense (``suggest.procedures``'s and DONE) outside the
    history and plan sections, or any sentence of a procedure section."""
    out = []
    for s in note.sentences:
        if s.section in NOT_THIS_VISIT or s.section in HISTORY_OF_ILLNESS:
            continue
        if s.section in PROCEDURE_SECTIONS:
            out.append(Hit(s.start, s.end, "present"))
            continue
        low = s.text.lower()
        for m in (*_VERBS.finditer(low), *DONE.finditer(low)):
            if hit_at(note, s.start + m.start(), s.start + m.end()).status == "present":
                out.append(Hit(s.start, s.end, "present"))
                break
    return out


def _affirmed(note: Note, spec: ElementSpec) -> list[Hit]:
    return [h for h in hits(note, spec.patterns, spec.skip_sections) if h.status == "present"]


def _names(codes: list[str] | tuple[str, ...], n: int = 6) -> str:
    more = len(codes) - n
    return ", ".join(codes[:n]) + (f" and {more} more" if more > 0 else "")


def _described_primary(kb: Any, note: Note, eligible: frozenset[str] | None) -> list[tuple[Hit, str]]:
    """Procedure statements whose concept-index match (lexical) is an eligible primary, with the code."""
    if kb is None or not eligible:
        return []
    try:
        from medcode.language.index import concept_index

        index: Any = concept_index(kb)
    except (ImportError, OSError):  # the index is an aid: without it the rule reads the billed codes
        return []
    out = []
    for h in _statement_hits(note):
        for c in index.lookup(note.text[h.start : h.end], k=LOOKUP_K, systems=("CPT", "HCPCS"), semantic=False):
            if c.code in eligible:
                out.append((h, c.code))
                break
    return out


def primary_procedure(kb: Any, note: Note, billed: Billed, spec: ElementSpec) -> Element:
    page = billed.page
    listed = tuple(page.addon.primary_codes) if page is not None and page.addon is not None else ()
    eligible = frozenset(listed) if listed else None
    billed_primaries = [c for c in billed.others if eligible is None or c in eligible]
    words = _affirmed(note, spec) if spec.patterns else _statement_hits(note)
    if billed_primaries and words:
        return _make(spec, note, "present", words)
    if billed_primaries:
        detail = f"{', '.join(billed_primaries)} is billed as the primary, but the note does not describe a procedure."
        return _make(spec, note, "missing", detail=detail)
    hint = f" (eligible primaries: {_names(listed)})" if listed else ""
    if spec.patterns and words:
        detail = (
            f"The note describes the primary procedure, but no eligible primary code is billed with "
            f"{billed.code}{hint}: bill it on the same claim."
        )
        return _make(spec, note, "present", words, detail)
    found = [] if spec.patterns else _described_primary(kb, note, eligible)
    if found:
        codes = list(dict.fromkeys(code for _, code in found))
        detail = (
            f"The note describes a procedure matching {', '.join(codes)}, which is not billed: "
            f"bill it with {billed.code}."
        )
        return _make(spec, note, "present", [h for h, _ in found], detail)
    if words:
        said = sentence_of(note, words[0].start)
        detail = f'No eligible primary is billed{hint}; the note says "{said}".'
        return _make(spec, note, "missing", detail=detail)
    return _make(spec, note, "missing", detail=f"No primary procedure is billed or described{hint}.")


def _sides(note: Note, spec: ElementSpec) -> tuple[dict[str, list[Hit]], bool]:
    """Affirmed side words by side, from the procedure's sentences when they name one (True), else the note."""
    skip = spec.skip_sections or NOT_THIS_VISIT
    found: dict[str, list[Hit]] = {}
    for side, pattern in _SIDES:
        for h in hits(note, (pattern,), skip):
            if h.status == "present":
                found.setdefault(side, []).append(h)
    for m in _SIDE_LETTER.finditer(note.text):
        if section_at(note, m.start()) not in skip:
            h = hit_at(note, m.start(), m.end())
            if h.status == "present":
                found.setdefault("right" if m.group(1) == "R" else "left", []).append(h)
    procedure = [(h.start, h.end) for h in _statement_hits(note)]
    near = {side: [h for h in hs if any(a <= h.start < b for a, b in procedure)] for side, hs in found.items()}
    near = {k: v for k, v in near.items() if v}
    return (near, True) if near else (found, False)


def laterality(note: Note, billed: Billed, spec: ElementSpec) -> Element:
    mods = set(billed.modifiers)
    sides, _ = _sides(note, spec)
    both = "50" in mods or {"RT", "LT"} <= mods
    if not sides:
        return _make(spec, note, "missing", detail="The note does not name the side treated.")
    named = [s for s in ("right", "left", "bilateral") if s in sides]
    said = " and ".join("both sides" if s == "bilateral" else f"the {s} side" for s in named)
    if both:
        if "bilateral" in sides or ("right" in sides and "left" in sides):
            return _make(spec, note, "present", [h for s in named for h in sides[s]])
        return _make(spec, note, "missing", detail=f"Billed for both sides, but the note names only {said}.")
    want = "right" if "RT" in mods else "left" if "LT" in mods else None
    if want is None:
        return _make(spec, note, "present", [h for s in named for h in sides[s]])
    if want in sides:
        return _make(spec, note, "present", sides[want])
    mod = "RT" if want == "right" else "LT"
    return _make(
        spec, note, "missing", [h for s in named for h in sides[s]], f"Billed {mod}, but the note names {said}."
    )


def time(note: Note, spec: ElementSpec) -> Element:
    patterns = spec.patterns or _TIME
    skip = spec.skip_sections or frozenset({"past_history", "family_history", "instructions"})
    found = hits(note, patterns, skip)
    affirmed = [h for h in found if h.status == "present"]
    if affirmed:
        return _make(spec, note, "present", affirmed)
    if any(h.status == "uncertain" for h in found):
        return _make(spec, note, "uncertain", [h for h in found if h.status == "uncertain"])
    return _make(spec, note, "missing", detail="The note states no time.")


def procedure_described(note: Note, spec: ElementSpec) -> Element:
    found = _affirmed(note, spec) if spec.patterns else _statement_hits(note)
    if found:
        return _make(spec, note, "present", found)
    return _make(spec, note, "missing", detail="The note does not describe a procedure done at this encounter.")


def element(kb: Any, id: str, note: Note, billed: Billed, spec: ElementSpec | None = None) -> Element:
    """The generic element ``id`` of the billed code (``spec``: the family's refinement, else DEFAULTS)."""
    spec = spec or DEFAULTS[id]
    if id == "primary_procedure":
        return primary_procedure(kb, note, billed, spec)
    if id == "laterality":
        return laterality(note, billed, spec)
    if id == "time":
        return time(note, spec)
    if id == "procedure_described":
        return procedure_described(note, spec)
    raise KeyError(id)


def elements(kb: Any, note: Note, billed: Billed, defined: frozenset[str] = frozenset()) -> tuple[Element, ...]:
    """The generic elements that apply to the billed code, except the ids its family ``defined``."""
    return tuple(element(kb, i, note, billed) for i in applies(billed) if i not in defined)
