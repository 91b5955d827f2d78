"""Colonoscopy (45378-45393, 45398): how far the scope went (or why it stopped), the technique of the
code billed, the indication, and the preparation (advice).

- extent: present when the note says the cecum or terminal ileum was reached (or names its
  landmarks); an incomplete exam whose reason is documented is present too, with a detail saying
  that modifier 53 (Medicare: discontinued) or 52 (reduced) applies; the family check fails when such
  a code is billed without 52 or 53.
- technique: the billed code's technique words (``vocab/endoscopy.tsv``, the rows Case2Code codes
  with; ``by_code`` of the catalogue for the codes that file does not name). When the note documents
  another technique instead, the element is missing and that technique's code is suggested. For the
  diagnostic 45378 the technique is present when the note says what was seen or that nothing was
  removed, and missing when it documents a biopsy, removal or other technique (then that code).
- indication: a sentence of the indications section, or screening, surveillance or a reason named
  (a family or personal history of polyps or cancer counts: it is the reason).
"""

from __future__ import annotations

import re

from medcode.audit import evidence as ev
from medcode.audit.catalogue import ElementSpec, Family
from medcode.audit.families import Billed, Judged
from medcode.audit.model import Element, Evidence
from medcode.language.note import Note
from medcode.suggest.surgery import endoscopy_techniques

__all__ = ["RULES", "indication_spans", "judge", "outside"]

RULES = frozenset({"extent", "technique", "indication"})

_INCOMPLETE = re.compile(
    r"incomplete (?:colonoscopy|exam\w*|study|procedure)|"
    r"(?:unable|could not|couldn't|not able|failed) to (?:be )?(?:advance|reach|intubate|pass|traverse|complete)\w*|"
    r"(?:procedure|exam\w*|colonoscopy) (?:was )?(?:aborted|terminated|discontinued|stopped)\b|"
    r"(?:cecum|terminal ileum|cecal) (?:was |were )?(?:not|never) (?:reached|intubated|visualized|seen)|"
    r"\b(?:did|could) not (?:reach|intubate) (?:the )?(?:cecum|terminal ileum)"
)
_REASON = re.compile(
    r"(?:poor|inadequate|suboptimal) (?:bowel )?prep\w*|obstruct\w*|stricture|angulat\w*|looping|"
    r"(?:patient )?(?:discomfort|intolerance)|perforation|instability|tortuous|(?:mass|tumor) (?:prevent|preclud)\w*"
)
_DOUBT = re.compile(
    r"thought to be|presum\w*|uncertain|unclear|questionabl\w*|possibl[ey]|probabl[ey]|"
    r"not (?:clearly|definitely|confidently|certainly) (?:seen|identified|reached|visualized)|with confidence"
)
# An indication that gives no reason.
_EMPTY_REASON = re.compile(
    r"[\W_]*(?:per (?:referral|pcp|gi)|see (?:referral|above|below|h&p|history)|as above|n/?a|none|"
    r"not (?:stated|given)|referral|routine)?[\W_]*"
)
_SCREENING_MODS = frozenset({"33", "PT"})
_MODS = frozenset({"52", "53"})
_FINDINGS = frozenset({"findings", "procedure_description", "procedure", "impression"})


def _el(spec: ElementSpec, status: str, found: tuple[Evidence, ...] = (), detail: str = "") -> Element:
    return Element(
        id=spec.id,
        label=spec.label,
        status=status,
        evidence=tuple(sorted(dict.fromkeys(found), key=lambda e: (e.start, e.end)))[: ev.MAX_EVIDENCE],
        query=None if status == "present" else spec.query,
        required=spec.required,
        source=spec.source,
        detail=detail,
    )


def _quote(note: Note, found: list[ev.Hit]) -> str:
    said = list(dict.fromkeys(ev.sentence_of(note, h.start) or note.text[h.start : h.end] for h in found))
    return "; ".join(f'"{w}"' for w in said[:2])


def _affirmed(note: Note, patterns: tuple[re.Pattern[str], ...], skip: frozenset[str]) -> list[ev.Hit]:
    return [h for h in ev.hits(note, patterns, skip) if h.status == "present"]


def _sentence(note: Note, offset: int) -> int:
    return next((i for i, s in enumerate(note.sentences) if s.start <= offset < s.end), -1)


def indication_spans(note: Note) -> list[tuple[int, int]]:
    """The indication itself: the line of each indications header (or, when the header stands alone,
    the next line with words); the lines after it are the report's body ("Sedation:", "Prep:" and the
    exam are no headers of their own)."""
    spans = []
    for section in note.sections:
        if section.name != "indications":
            continue
        body = note.text[section.start : section.end]
        pos = 0
        for n, line in enumerate(body.split("\n")):
            start, pos = pos, pos + len(line) + 1
            words = line.split(":", 1)[1] if n == 0 and ":" in line else ("" if n == 0 else line)
            if words.strip():
                spans.append((section.start + start, section.start + start + len(line)))
                break
    return spans


def outside(found: list[ev.Hit], spans: list[tuple[int, int]]) -> list[ev.Hit]:
    return [h for h in found if not any(a <= h.start < b for a, b in spans)]


def judge(kb: object, note: Note, billed: Billed, family: Family) -> Judged:
    spans = indication_spans(note)
    extent, incomplete = _extent(note, family.element("extent"), billed, spans)
    technique, other = _technique(note, family.element("technique"), billed, spans)
    indication = _indication(note, family.element("indication"), billed, spans)
    prep = ev.judge(note, family.element("prep_quality"), billed.code)
    holds = not (incomplete and not _MODS & set(billed.modifiers))
    elements = (extent, technique, indication, prep)
    summary = None
    if not holds:
        from medcode.audit import summary as core_summary  # the core's wording for the elements

        rest = core_summary(elements, True, other)
        summary = f"Not supported: an incomplete colonoscopy needs modifier 53 (Medicare) or 52 on {billed.code}" + (
            "; " + rest.removeprefix("Not supported: ") if rest.startswith("Not supported") else "."
        )
    return Judged(elements=elements, holds=holds, suggested_code=other, summary=summary)


def _extent(note: Note, spec: ElementSpec, billed: Billed, spans: list[tuple[int, int]]) -> tuple[Element, bool]:
    stops = outside(ev.hits(note, (_INCOMPLETE,), spec.skip_sections), spans)
    stopped = [h for h in stops if h.status in ("present", "negated")]
    own = outside(ev.hits(note, spec.patterns, spec.skip_sections), spans)
    doubted = [h for h in own if h.status == "uncertain" or _DOUBT.search(ev.sentence_of(note, h.start).lower())]
    reached = [h for h in own if h.status == "present" and h not in doubted]
    stop_sentences = {_sentence(note, h.start) for h in stopped}
    reached = [h for h in reached if _sentence(note, h.start) not in stop_sentences]
    if stopped and not reached:
        why = _affirmed(note, (_REASON,), frozenset({"past_history", "family_history"}))
        found = ev.evidence(note, stopped + why)
        mods = _MODS & set(billed.modifiers)
        tail = (
            f"billed with modifier {', '.join(sorted(mods))}."
            if mods
            else "report it with modifier 53 (Medicare: discontinued) or 52 (reduced); if the scope did not pass"
            " the splenic flexure, a flexible sigmoidoscopy code applies."
        )
        if not why:
            return _el(
                spec,
                "missing",
                found,
                f"The exam stopped short ({_quote(note, stopped)}) but the note does not say why; {tail}",
            ), True
        return _el(spec, "present", found, f"Incomplete colonoscopy ({_quote(note, stopped)}): {tail}"), True
    if reached:
        detail = ""
        if _MODS & set(billed.modifiers):
            detail = "The note documents a complete exam, yet the code is billed with modifier 52 or 53."
        return _el(spec, "present", ev.evidence(note, reached), detail), False
    if doubted:
        detail = f"The note says {_quote(note, doubted)}: not certain."
        return _el(spec, "uncertain", ev.evidence(note, doubted), detail), False
    if own:
        return _el(
            spec, "missing", ev.evidence(note, own), f"The note says {_quote(note, own)}, which is not affirmed."
        ), False
    return _el(spec, "missing", detail="The note does not say how far the colonoscope went."), False


def _technique(
    note: Note, spec: ElementSpec, billed: Billed, spans: list[tuple[int, int]]
) -> tuple[Element, str | None]:
    rows = [(name, code, p) for name, code, p in endoscopy_techniques("colonoscopy") if name != "scope"]
    by_code: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for name, code, p in rows:
        by_code.setdefault(code, []).append((name.replace("_", " "), p))
    for code, patterns in spec.by_code.items():
        if code != "45378":
            by_code.setdefault(code, []).extend((f"the technique of {code}", p) for p in patterns)
    skip = spec.skip_sections
    done = {
        code: found
        for code, named in by_code.items()
        if (found := outside(_affirmed(note, tuple(p for _, p in named), skip), spans))
    }
    code = billed.code
    others = [(c, hs) for c, hs in done.items() if c != code]

    def elsewhere() -> tuple[Element, str | None]:
        c, hs = min(others, key=lambda o: (o[0] in billed.others, o[1][0].start))
        name = by_code[c][0][0]
        detail = f"The note documents {name} ({_quote(note, hs)}), which is {c}, not {code}."
        suggested = None if c in billed.others else c
        return _el(spec, "missing", ev.evidence(note, hs), detail), suggested

    if code == "45378":
        if others:
            return elsewhere()
        said = [
            h
            for h in outside(ev.hits(note, spec.by_code.get(code, ()), skip), spans)
            if h.status in ("present", "negated")
        ]
        if said:
            return _el(spec, "present", ev.evidence(note, said), "Inspection only: no biopsy or removal."), None
        seen = [s for s in note.sentences if s.section in _FINDINGS]
        if seen:
            first = (Evidence(seen[0].start, seen[0].end, seen[0].text),)
            return _el(spec, "present", first, "The note describes the exam; no biopsy or removal documented."), None
        return _el(spec, "missing", detail="The note does not describe what the exam found or did."), None
    if code in done:
        return _el(spec, "present", ev.evidence(note, done[code])), None
    if others:
        return elsewhere()
    own = outside(ev.hits(note, tuple(p for _, p in by_code.get(code, [])), skip), spans)
    for status in ("negated", "uncertain"):
        mine = [h for h in own if h.status == status]
        if mine:
            return _el(spec, status, ev.evidence(note, mine), f"The note says {_quote(note, mine)}."), None
    detail = f"The note does not document {by_code[code][0][0]}." if code in by_code else ""
    return _el(spec, "missing", ev.evidence(note, own), detail), None


def _indication(note: Note, spec: ElementSpec, billed: Billed, spans: list[tuple[int, int]]) -> Element:
    stated = []
    for a, b in spans:
        words = note.text[a:b].split(":", 1)[-1]
        if not _EMPTY_REASON.fullmatch(words.lower().strip()):
            stated.append(Evidence(a, b, note.text[a:b]))
    found = [
        h for h in ev.hits(note, spec.patterns, spec.skip_sections) if h.status in ("present", "family", "historical")
    ]
    if not stated and not found:
        said = "; ".join(f'"{note.text[a:b].strip()}"' for a, b in spans)
        detail = f"The note gives no reason for the colonoscopy{f' ({said})' if said else ''}."
        return _el(spec, "missing", tuple(Evidence(a, b, note.text[a:b]) for a, b in spans), detail)
    words = " ".join(note.text[h.start : h.end].lower() for h in found)
    kind = "Screening" if "screening" in words else "Surveillance" if "surveillance" in words else "Diagnostic"
    found_ev = ev.evidence(note, found) or tuple(stated[:1])
    mods = _SCREENING_MODS & set(billed.modifiers)
    if mods and kind != "Screening":
        detail = (
            f"Billed with modifier {', '.join(sorted(mods))} (screening), but the note's indication is"
            f" {kind.lower()}: {'; '.join(e.text.strip() for e in found_ev[:2])}."
        )
        return _el(spec, "missing", found_ev, detail)
    return _el(spec, "present", found_ev, f"{kind} colonoscopy.")
