"""The note's words for a catalogue element: pattern matches with their context, and the element's status.

``hits`` finds a catalogue element's patterns in the lower-case note and reads each match's context
(``medcode.language.context.assess``: negated, uncertain, historical, family, hypothetical). ``judge``
turns them into an ``Element``:

- present: an affirmed match of the element's patterns (and, with ``by_code``, of the billed code's);
- negated: an affirmed match of a negation ("prefabricated spacer"), or only negated matches ("no
  antibiotic was added");
- uncertain: only uncertain matches ("possible intra-articular extension");
- missing: nothing affirmed. Historical, family and planned mentions ("history of ...", "will place
  beads next week") do not satisfy; ``detail`` says what the note does say. With ``by_code``, when
  another code's words match (affirmed) and the billed code's do not, the element is missing and
  ``judge_code`` also returns the code the note supports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from medcode.audit.catalogue import ElementSpec
from medcode.audit.model import Element, Evidence
from medcode.language.context import assess
from medcode.language.note import Note

__all__ = [
    "HIT_STATUSES",
    "Hit",
    "evidence",
    "hit_at",
    "hits",
    "judge",
    "judge_code",
    "query_of",
    "section_at",
    "sentence_of",
]

HIT_STATUSES = ("present", "negated", "uncertain", "historical", "family", "hypothetical")
MAX_EVIDENCE = 5  # spans kept per element
QUOTE = 160  # characters of a sentence quoted in a detail


@dataclass(frozen=True)
class Hit:
    """A pattern match ``note.text[start:end]`` and its context: ``status`` is one of HIT_STATUSES
    (present means affirmed); ``laterality`` the side ConText reads for it (right, left, bilateral)."""

    start: int
    end: int
    status: str
    laterality: str | None = None


@lru_cache(maxsize=32)
def _lower(text: str) -> str:
    return text.lower()


def section_at(note: Note, offset: int) -> str | None:
    """The name of the section holding ``offset``."""
    for section in note.sections:
        if section.start <= offset < section.end:
            return section.name
    return None


def _status(note: Note, start: int, end: int) -> tuple[str, str | None]:
    c = assess(note, start, end)
    if c.negated and not c.uncertain:  # "it is unclear whether ... not": hedged, not denied
        return "negated", c.laterality
    for name in ("family", "historical", "hypothetical", "uncertain"):
        if getattr(c, name):
            return name, c.laterality
    return "present", c.laterality


def hit_at(note: Note, start: int, end: int) -> Hit:
    """The hit of ``note.text[start:end]`` with its context."""
    status, side = _status(note, start, end)
    return Hit(start, end, status, side)


def hits(note: Note, patterns: Iterable[re.Pattern[str]], skip_sections: frozenset[str] = frozenset()) -> list[Hit]:
    """Every match of ``patterns`` in the lower-case note outside ``skip_sections``, with its context,
    in note order (one hit per span)."""
    low = _lower(note.text)
    spans: set[tuple[int, int]] = set()
    for p in patterns:
        for m in p.finditer(low):
            start, end = m.span()
            while start < end and low[start].isspace():
                start += 1
            while end > start and low[end - 1].isspace():
                end -= 1
            if start < end:
                spans.add((start, end))
    out = []
    for start, end in sorted(spans):
        if skip_sections and section_at(note, start) in skip_sections:
            continue
        out.append(hit_at(note, start, end))
    return out


def evidence(note: Note, found: Iterable[Hit]) -> tuple[Evidence, ...]:
    """The note's words of ``found`` (at most MAX_EVIDENCE spans, overlapping ones once)."""
    out: list[Evidence] = []
    last_end = -1
    for h in sorted(found, key=lambda h: (h.start, -h.end)):
        if h.start < last_end:
            continue
        out.append(Evidence(h.start, h.end, note.text[h.start : h.end]))
        last_end = h.end
        if len(out) == MAX_EVIDENCE:
            break
    return tuple(out)


def query_of(spec: ElementSpec, status: str) -> str | None:
    return None if status == "present" else spec.query


def make(
    spec: ElementSpec,
    status: str,
    found: Iterable[Evidence] = (),
    detail: str = "",
    required: bool | None = None,
    query: str | None = None,
) -> Element:
    """The element ``spec`` with ``status`` and its evidence (in note order, each span once, at most
    MAX_EVIDENCE); the query (the catalogue's, or ``query``) for every status but present."""
    return Element(
        id=spec.id,
        label=spec.label,
        status=status,
        evidence=tuple(sorted(dict.fromkeys(found), key=lambda e: (e.start, e.end)))[:MAX_EVIDENCE],
        query=None if status == "present" else (query or spec.query),
        required=spec.required if required is None else required,
        source=spec.source,
        detail=detail,
    )


def sentence_of(note: Note, offset: int) -> str:
    """The note's sentence holding ``offset`` (its words only, at most QUOTE characters)."""
    for s in note.sentences:
        if s.start <= offset < s.end:
            text = " ".join(s.text.split())
            return text if len(text) <= QUOTE else text[: QUOTE - 3].rstrip() + "..."
    return ""


def _quote(note: Note, found: list[Hit]) -> str:
    """The sentences of ``found`` (the matched words where there is no sentence), quoted, at most 2."""
    said = list(dict.fromkeys(sentence_of(note, h.start) or note.text[h.start : h.end] for h in found))
    return "; ".join(f'"{w}"' for w in said[:2])


_WHY = {
    "historical": "only as history",
    "family": "only in the family history",
    "hypothetical": "only as planned or to be done",
    "uncertain": "only as possible or uncertain",
    "negated": "only as not done or absent",
}


def judge_code(note: Note, spec: ElementSpec, code: str) -> tuple[Element, str | None]:
    """The element ``spec`` of the billed ``code`` in ``note``, and, when the element's ``by_code``
    words of another code are what the note says, that code (else None)."""

    def element(status: str, found: Iterable[Hit] = (), detail: str = "") -> Element:
        return make(spec, status, evidence(note, found), detail)

    own = hits(note, (*spec.patterns, *spec.by_code.get(code, ())), spec.skip_sections)
    affirmed = [h for h in own if h.status == "present"]
    refused = (
        [h for h in hits(note, spec.negations, spec.skip_sections) if h.status == "present"] if spec.negations else []
    )
    if refused:
        detail = f"The note says {_quote(note, refused)}"
        if affirmed:
            detail += f" (it also says {_quote(note, affirmed)})"
        return element("negated", refused, detail + "."), None
    if affirmed:
        return element("present", affirmed), None
    if spec.by_code:
        for other, patterns in spec.by_code.items():
            if other == code:
                continue
            theirs = [h for h in hits(note, patterns, spec.skip_sections) if h.status == "present"]
            if theirs:
                detail = f"The note says {_quote(note, theirs)}, which supports {other}, not {code}."
                return element("missing", theirs, detail), other
    negated = [h for h in own if h.status == "negated"]
    if negated:
        return element("negated", negated, f"The note says {_quote(note, negated)}."), None
    uncertain = [h for h in own if h.status == "uncertain"]
    if uncertain:
        return element("uncertain", uncertain, f"The note says {_quote(note, uncertain)}: not certain."), None
    if own:
        kinds = list(dict.fromkeys(h.status for h in own))
        why = " or ".join(_WHY[k] for k in kinds)
        return element("missing", own, f"The note mentions {_quote(note, own)} {why}."), None
    return element("missing"), None


def judge(note: Note, spec: ElementSpec, code: str) -> Element:
    """The element ``spec`` of the billed ``code`` in ``note`` (see the module's docstring)."""
    return judge_code(note, spec, code)[0]
