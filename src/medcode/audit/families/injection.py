"""Arthrocentesis, aspiration or injection of a joint or bursa (20600-20611): the joint's size must match
the code, ultrasound guidance and a recorded image go with 20604, 20606 and 20611, and the drug injected.

Joint sizes and the code of each size with and without ultrasound are ``vocab/joint_sizes.tsv`` and
``vocab/joint_codes.tsv``, read through ``medcode.suggest.families.joint_tables`` (the rule Case2Code
codes with). What "present" means where the code asks for nothing:

- guidance, for 20600, 20605, 20610: present when the note says landmarks or palpation, or names no
  ultrasound at all (evidence then empty). When it documents ultrasound with a recorded image, the
  element is present and the with-ultrasound code is suggested (the billed code under-codes).
- image_recorded: left out for 20600, 20605, 20610.
- drug: for an aspiration only (no injection word, no drug) it is advice (required false).
"""

from __future__ import annotations

import re
from dataclasses import replace

from medcode.audit import evidence as ev
from medcode.audit.catalogue import ElementSpec, Family
from medcode.audit.families import Billed, Judged
from medcode.audit.families.colonoscopy import indication_spans, outside
from medcode.audit.model import Element, Evidence
from medcode.language.note import Note
from medcode.suggest.families import joint_tables

__all__ = ["RULES", "judge"]

RULES = frozenset({"site", "guidance", "image_recorded", "drug"})

_DONE = re.compile(
    r"\binject\w*|\baspirat\w*|arthrocentesis|\btapped\b|\bneedle\b|\binstill\w*|\bentered\b|\bdrained\b"
)
_INJECTED = re.compile(r"\binject(?:ed|ion|ing)?\b|\binstill\w*|\binfiltrat\w*")
_ASPIRATED = re.compile(r"\baspirat\w*|arthrocentesis|\btapped\b|\bdrained\b|\bwithdrawn\b")
# Words of numbing the skin before the joint is entered: a drug named with them is not the drug injected.
_SKIN = re.compile(r"wheal|\bskin\b|subcutaneous\w*|anesthetiz\w*|local anesthe\w*|\bnumb\w*|\blocal\b")
_INTO_JOINT = re.compile(r"\bjoint\b|\bbursa\b|intra-?articular|\brecess\b|\bspace\b")
_DOUBT = re.compile(
    r"\bi believe\b|\bi think\b|believed to|presum\w*|probabl[ey]|possibl[ey]|not sure|unsure|uncertain|"
    r"\bwill (?:verify|confirm|check)\b|to be (?:verified|confirmed)"
)
_DOSE = re.compile(r"\b\d+(?:\.\d+)?\s*(?:mg|mcg|ml|cc|mg/ml|%)(?![a-z])")


def _el(
    spec: ElementSpec,
    status: str,
    found: tuple[Evidence, ...] = (),
    detail: str = "",
    required: bool | None = None,
    query: str | None = None,
) -> Element:
    return ev.make(spec, status, found, detail, required, query)


def _quote(note: Note, found: list[ev.Hit]) -> str:
    said = list(dict.fromkeys(ev.sentence_of(note, h.start) or note.text[h.start : h.end] for h in found))
    return "; ".join(f'"{w}"' for w in said[:2])


def _hits(note: Note, patterns: tuple[re.Pattern[str], ...], skip: frozenset[str]) -> list[ev.Hit]:
    """Matches outside ``skip`` and outside the indication itself (``indication_spans``)."""
    return outside(ev.hits(note, patterns, skip), indication_spans(note))


def _affirmed(note: Note, patterns: tuple[re.Pattern[str], ...], skip: frozenset[str]) -> list[ev.Hit]:
    return [h for h in _hits(note, patterns, skip) if h.status == "present"]


def _codes() -> dict[str, tuple[str, bool]]:
    """code -> (joint size, with ultrasound)."""
    _, codes = joint_tables()
    return {code: key for key, code in codes.items()}


def judge(kb: object, note: Note, billed: Billed, family: Family) -> Judged:
    size, with_us = _codes()[billed.code]
    _, codes = joint_tables()
    guidance_spec = family.element("guidance")
    us_patterns = tuple(p for c, ps in guidance_spec.by_code.items() if _codes()[c][1] for p in ps)
    us = _affirmed(note, us_patterns, guidance_spec.skip_sections)
    image = _image(note, family.element("image_recorded"))
    us_supported = bool(us) and image.status == "present"

    site, note_size = _site(note, family.element("site"), size)
    suggested = None
    if note_size is not None and note_size != size:
        suggested = codes[(note_size, us_supported)]
    guidance = _guidance(note, guidance_spec, billed.code, with_us, us, us_supported, codes[(size, True)])
    if not with_us and us_supported and suggested is None:
        suggested = codes[(size, True)]
    elements = [site, guidance]
    if with_us:
        elements.append(image)
        if image.status != "present" and suggested is None:
            suggested = codes[(note_size or size, False)]
    elements.append(_drug(note, family.element("drug")))
    if suggested in billed.others or suggested == billed.code:
        suggested = None
    return Judged(elements=tuple(elements), suggested_code=suggested)


def _site(note: Note, spec: ElementSpec, size: str) -> tuple[Element, str | None]:
    """The site element, and the size of the joint the note names (None: no joint named)."""
    sites, _ = joint_tables()
    done = {i for i, s in enumerate(note.sentences) if _DONE.search(s.text.lower())}
    found: list[tuple[ev.Hit, str]] = []
    for pattern, sz in sites:
        for h in _hits(note, (pattern,), spec.skip_sections):
            if h.status == "present":
                found.append((h, sz))
    in_done = [
        (h, sz) for h, sz in found if any(s.start <= h.start < s.end for i, s in enumerate(note.sentences) if i in done)
    ]
    named = in_done or found
    if not named:
        return _el(spec, "missing", detail="The note names no joint or bursa."), None
    mine = [h for h, sz in named if sz == size]
    if mine:
        return _el(spec, "present", ev.evidence(note, mine), f"A {size} joint or bursa."), size
    h, sz = named[0]
    a = "an" if size == "intermediate" else "a"
    detail = f"The note names the {note.text[h.start : h.end]}, a {sz} joint or bursa, not {a} {size} one."
    return _el(spec, "missing", ev.evidence(note, [h]), detail), sz


def _guidance(
    note: Note,
    spec: ElementSpec,
    code: str,
    with_us: bool,
    us: list[ev.Hit],
    us_supported: bool,
    us_code: str,
) -> Element:
    if with_us:
        if us:
            return _el(spec, "present", ev.evidence(note, us))
        said = _hits(note, spec.by_code.get(code, ()), spec.skip_sections)
        for status in ("negated", "uncertain"):
            mine = [h for h in said if h.status == status]
            if mine:
                return _el(spec, status, ev.evidence(note, mine), f"The note says {_quote(note, mine)}.")
        return _el(spec, "missing", detail="The note does not say ultrasound guided the needle.")
    if us:
        detail = (
            f"The note documents ultrasound guidance with a recorded image: {us_code} is the code with ultrasound."
            if us_supported
            else "Ultrasound named without a recorded image: the code without ultrasound is right."
        )
        return _el(spec, "present", ev.evidence(note, us), detail)
    landmarks = _hits(note, spec.by_code.get(code, ()), spec.skip_sections)
    said = [h for h in landmarks if h.status in ("present", "negated")]
    if said:
        return _el(spec, "present", ev.evidence(note, said), "Without ultrasound guidance.")
    return _el(spec, "present", detail="No ultrasound named: the code without ultrasound guidance applies.")


def _numbing(note: Note, h: ev.Hit) -> bool:
    """Whether the drug of ``h`` numbed the skin (its sentence says so and does not say into the joint)."""
    sentence = ev.sentence_of(note, h.start).lower()
    return bool(_SKIN.search(sentence)) and not _INTO_JOINT.search(sentence)


def _image(note: Note, spec: ElementSpec) -> Element:
    said = _hits(note, spec.patterns, spec.skip_sections)
    for status in ("present", "negated", "uncertain"):
        mine = [h for h in said if h.status == status]
        if mine:
            detail = "" if status == "present" else f"The note says {_quote(note, mine)}."
            return _el(spec, status, ev.evidence(note, mine), detail)
    return _el(spec, "missing", detail="The note does not say an image of the guidance was recorded.")


def _drug(note: Note, spec: ElementSpec) -> Element:
    skip = spec.skip_sections
    drugs = [h for h in _hits(note, spec.patterns, skip) if not _numbing(note, h)]
    for h in drugs:
        if h.status == "present" and _DOUBT.search(ev.sentence_of(note, h.start).lower()):
            drugs[drugs.index(h)] = replace(h, status="uncertain")
    affirmed = [h for h in drugs if h.status == "present"]
    injected = _affirmed(note, (_INJECTED,), skip)
    aspirated = _affirmed(note, (_ASPIRATED,), skip)
    if affirmed:
        doses = []
        for h in affirmed:
            s = next((s for s in note.sentences if s.start <= h.start < s.end), None)
            if s is not None:
                doses += [
                    Evidence(s.start + m.start(), s.start + m.end(), m.group(0)) for m in _DOSE.finditer(s.text.lower())
                ]
        found = tuple(sorted(set(ev.evidence(note, affirmed)) | set(doses), key=lambda e: e.start))
        return _el(spec, "present", found, "" if doses else "The dose is not stated.")
    only_aspiration = bool(aspirated) and not injected
    required = False if only_aspiration else None
    detail = "Aspiration only: no drug is needed for this code." if only_aspiration else ""
    query = "Was anything injected after the aspiration? If so, which drug and what dose?" if only_aspiration else None
    for status in ("negated", "uncertain"):
        mine = [h for h in drugs if h.status == status]
        if mine:
            said = f"The note says {_quote(note, mine)}."
            return _el(spec, status, ev.evidence(note, mine), f"{said} {detail}".strip(), required, query)
    if not detail and injected:
        detail = "The note says an injection was given but does not name the drug."
    return _el(spec, "missing", (), detail, required, query)
