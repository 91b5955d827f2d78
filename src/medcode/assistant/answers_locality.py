"""CasePilot answers about Medicare payment localities: the locality of a ZIP code (its state, carrier
(MAC), locality number and name, rural indicator), the GPCIs of a locality for the year asked (the
newest release by default), and the localities of a state with the one that is the rest of the state.

Every fact is a row of the ZIP-to-locality, GPCI or county file read through ``medcode.pricing``
(``zip_locality``, ``gpci_row``, ``state_localities``, ``state_names``, ``find_locality``), the
functions the payment answers and the code pages price with."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from medcode.assistant.model import Answer, Citation, Question
from medcode.kb import models
from medcode.kb.store import KnowledgeBase
from medcode.pricing import (
    WORK_FLOOR_LAST_DAY,
    GpciRow,
    PricingError,
    ZipLocality,
    find_locality,
    gpci_row,
    state_localities,
    state_names,
    zip_locality,
)

__all__ = ["ANSWERS", "answer_locality"]

FAMILY = "locality"
FEW = 4  # a state with at most this many localities: its list says which counties each holds
# the ZIP-to-locality file's rural indicator (ZIP5lyout.txt, position 15)
RURAL = {"": "urban (no rural indicator)", "R": "rural (rural indicator R)", "B": "super rural (rural indicator B)"}
_YEAR = re.compile(r"(?<![\d-])(20[0-4]\d)(?![\d-])")
_GPCI_WORDS = re.compile(r"\b(?:gpcis?|work|practice expense|pe|malpractice|mp|liability|geographic)\b")
_NOT_CITY = frozenset("is in at for of the which what where medicare locality gpci gpcis zip".split())
_KEY = re.compile(r"(?<![\d-])(\d{5})-(\d{2})(?![\d-])")
_ABBREVIATION = re.compile(r",\s*([A-Z]{2})\b")


def _cite(c: models.Citation) -> Citation:
    return Citation(c.family, c.release, c.file, c.row or "")


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


@dataclass
class _Said:
    """The answer being written: its sentences, the rows cited, notices and the worst confidence."""

    sentences: list[str]
    cites: list[Citation]
    notices: list[str]
    confidence: str = "high"

    def lower(self, to: str) -> None:
        order = ("high", "medium", "low")
        if order.index(to) > order.index(self.confidence):
            self.confidence = to

    def cite(self, c: Citation) -> None:
        if c not in self.cites:
            self.cites.append(c)


def _days(kb: KnowledgeBase, q: Question) -> list[date | None]:
    """The days to read the GPCI file on: the date asked; for a year, the start of the newest GPCI
    release of that year (else its first day); every year the question names ("2025 vs 2026"); the
    newest release when none is asked."""
    if q.day is not None:
        return [q.day]
    years = sorted({int(y) for y in _YEAR.findall(q.text)} | ({q.year} if q.year else set()))
    out: list[date | None] = []
    for year in years:
        in_year = [r for r in kb.releases.get("gpci", []) if r.effective_from.year == year]
        out.append(in_year[-1].effective_from if in_year else date(year, 1, 1))
    return out or [None]


def _gpcis(kb: KnowledgeBase, row: GpciRow, day: date | None, said: _Said) -> str:
    """'2026 GPCIs (RVU26B GPCI2026.csv): work ..., practice expense ..., malpractice ...', with the
    work GPCI with and without the floor where the file gives both and they differ."""
    when = day or row.citation.effective_from
    applied = row.on(when)
    work = f"{applied.work:.3f}"
    if row.pw is not None and row.pw != row.pw_floor:
        if applied.work_floor:
            work += f" with the work GPCI floor ({row.pw:.3f} without it, after {WORK_FLOOR_LAST_DAY.isoformat()})"
        else:
            work += (
                f" ({row.pw_floor:.3f} with the work GPCI floor, which applied through "
                f"{WORK_FLOOR_LAST_DAY.isoformat()})"
            )
    said.cite(_cite(row.citation))
    year = row.citation.effective_from.year
    _stale(row, day, said)
    return (
        f"{year} GPCIs ({row.citation.release} {row.citation.file}): work {work}, "
        f"practice expense {row.pe:.3f}, malpractice {row.mp:.3f}."
    )


def _counties(kb: KnowledgeBase, row: GpciRow, day: date | None, said: _Said) -> str:
    """The counties of a locality in the county file (cited), "" when none is loaded or has it."""
    found = kb.resolve("locality", day)
    if found is None:
        return ""
    try:
        loc, _, _ = find_locality(kb, locality=row.key, day=day)
    except PricingError:
        return ""
    if not loc.counties:
        return ""
    said.cite(Citation("locality", found.release.name, found.release.files[0].file, row.key))
    return loc.counties


def _county_file(kb: KnowledgeBase, day: date | None) -> str:
    found = kb.resolve("locality", day)
    return f"{found.release.files[0].file}, {found.release.name}" if found else ""


def _locality(row: GpciRow, named: bool = True) -> str:
    name = f", {row.name}," if named else ""
    return f"locality {row.locality}{name} of MAC (carrier) {row.mac} ({row.state}; key {row.key})"


def _followups(kb: KnowledgeBase, where: str, state: str | None, days: list[date | None]) -> tuple[str, ...]:
    years = sorted({r.effective_from.year for r in kb.releases.get("gpci", [])})
    asked = {d.year for d in days if d is not None} or {years[-1]} if years else set()
    other = [y for y in years if y not in asked]
    out = [f"What does 99213 pay in {where}?"]
    if other:
        out.append(f"What were the {other[-1]} GPCIs for {where}?")
    if state:
        out.append(f"Which Medicare localities does {state} have?")
    return tuple(out)


def _title(name: str) -> str:
    return " ".join(w.lower() if w in ("OF", "AND") else w.capitalize() for w in name.split())


def _state_label(kb: KnowledgeBase, abbreviation: str, place: str | None = None) -> str:
    """'Missouri (MO)': the state's name in the county file (the place's own when it is one, Guam)."""
    names = state_names(kb)
    asked = " ".join(place.upper().replace(".", " ").split()) if place else ""
    name = asked if names.get(asked) == abbreviation else next((n for n, a in names.items() if a == abbreviation), "")
    return f"{_title(name)} ({abbreviation})" if name else abbreviation


def _where(kb: KnowledgeBase, q: Question, state: str | None, fallback: str) -> str:
    """The place as a follow-up question names it: as asked, else the state's name, else ``fallback``."""
    if q.place and len(q.place) > 2:
        return _title(q.place.upper())
    if state:
        return _state_label(kb, state, q.place).rsplit(" (", 1)[0]
    return fallback


def _stale(row: GpciRow, day: date | None, said: _Said) -> None:
    """The notice and confidence when no GPCI file is loaded for the date or year asked."""
    if not row.note:
        return
    year = row.citation.effective_from.year
    said.notices.append(row.note)
    asked = day.year if day else year
    if asked != year:
        said.sentences.append(f"No GPCI file for {asked} is loaded; these are the {year} GPCIs.")
        said.lower("low")
    else:
        said.lower("medium")


def _zip_state(kb: KnowledgeBase, state: str) -> str:
    """The ZIP file's state: a postal abbreviation, or one of its own codes (EK, WK: east and west Kansas)."""
    return state if state in state_names(kb).values() else f"state code {state} in the ZIP file"


def _by_zip(kb: KnowledgeBase, q: Question, zip5: str, days: list[date | None]) -> Answer:
    said = _Said([], [], [])
    try:
        z: ZipLocality = zip_locality(kb, zip5, days[-1])
    except PricingError as e:
        found = kb.resolve("zip5", days[-1])
        cites = (
            (Citation("zip5", found.release.name, found.release.files[0].file, "(no such ZIP code)"),) if found else ()
        )
        return Answer(
            f"ZIP code {zip5} is in no Medicare payment locality in the file loaded: {e}. "
            "Check the ZIP code; a ZIP code created after that file is not in it.",
            citations=cites,
            confidence="low",
            followups=("Which Medicare locality is Chicago?", "Which Medicare localities does Texas have?"),
            kind=FAMILY,
        )
    said.cite(_cite(z.citation))
    if z.note:
        said.notices.append(z.note)
        said.lower("medium")
    first = gpci_row(kb, z.mac, z.locality, days[-1])
    rural = RURAL.get(z.rural, z.rural)
    where = f"ZIP-to-locality file {z.citation.file} ({z.citation.release})"
    if re.search(r"\brural\b", q.text, re.IGNORECASE):  # "is it rural?": yes or no first
        said.sentences.append(
            f"{'Yes' if z.rural else 'No'}: ZIP {z.zip} ({_zip_state(kb, z.state)}) is {rural} in the {where}."
        )
        said.sentences.append(f"It is in Medicare payment {_locality(first)}.")
    else:
        said.sentences.append(
            f"ZIP {z.zip} ({_zip_state(kb, z.state)}) is in Medicare payment {_locality(first)}, in the "
            f"{where}; the file marks it {rural}."
        )
    plus = re.search(rf"\b{z.zip}-?(\d{{4}})\b", q.text)
    if z.plus4:
        said.sentences.append(
            "The file flags this ZIP code as split by ZIP+4 (parts of it may be in another locality); "
            "the ZIP+4 file is not loaded, so this is the locality of the five-digit ZIP code."
        )
    elif plus:
        said.sentences.append(
            f"The four extra digits ({plus.group(1)}) do not change it: the file does not split this ZIP code by ZIP+4."
        )
    for day in days:
        said.sentences.append(_gpcis(kb, gpci_row(kb, z.mac, z.locality, day), day, said))
    return _make(said, _followups(kb, f"ZIP {z.zip}", _where(kb, q, first.state, ""), days))


def _make(said: _Said, followups: tuple[str, ...]) -> Answer:
    return Answer(
        " ".join(s for s in said.sentences if s),
        citations=tuple(said.cites),
        codes=(),
        confidence=said.confidence,
        followups=followups[:3],
        kind=FAMILY,
        notices=tuple(dict.fromkeys(said.notices)),
    )


def _named_state(kb: KnowledgeBase, q: Question) -> str | None:
    """The postal abbreviation of a state the question names besides its place ("Portland, Maine")."""
    names = state_names(kb)
    words = f" {_words(q.text)} "
    if q.place:
        words = words.replace(f" {_words(q.place)} ", " ", 1)
    for name in sorted(names, key=len, reverse=True):
        if f" {name.lower()} " in words:
            return names[name]
    m = _ABBREVIATION.search(q.text)
    return m.group(1) if m and m.group(1) in names.values() else None


def _state_of_place(kb: KnowledgeBase, place: str | None) -> str | None:
    if not place:
        return None
    names = state_names(kb)
    key = " ".join(place.upper().replace(".", " ").split())
    if key in names:
        return names[key]
    return key if len(key) == 2 and key in names.values() else None


def _by_state(
    kb: KnowledgeBase, q: Question, state: str, days: list[date | None], why: str = "", why_row: GpciRow | None = None
) -> Answer:
    """The localities of ``state``; ``why``: a sentence first (and ``why_row`` the row it names)."""
    said = _Said([why] if why else [], [_cite(why_row.citation)] if why_row else [], [])
    rows = state_localities(kb, state, days[-1])
    label = _state_label(kb, state, q.place)
    if not rows:
        return Answer(
            f"The GPCI file has no locality of {label}.",
            confidence="low",
            followups=_followups(kb, "Chicago", None, days),
            kind=FAMILY,
        )
    own = [r for r in rows if r.state == state]
    other = [r for r in rows if r.state != state]
    if len(own) == 1 and not other:
        row = own[0]
        said.sentences.append(f"{label} has one Medicare payment locality, for the whole state: {_locality(row)}.")
        said.sentences.extend(_gpcis(kb, gpci_row(kb, row.mac, row.locality, d), d, said) for d in days)
        return _make(said, _followups(kb, _where(kb, q, state, label), None, days))
    gpcis = bool(_GPCI_WORDS.search(_words(q.text)))
    file = f"{own[0].citation.file} ({own[0].citation.release})" if own else ""
    macs = list(dict.fromkeys(r.mac for r in own))
    parts = []
    for mac in macs:
        listed = "; ".join(
            f"{r.locality} {r.name}"
            + (
                f" (work {r.on(days[-1] or r.citation.effective_from).work:.3f}, "
                f"practice expense {r.pe:.3f}, malpractice {r.mp:.3f})"
                if gpcis
                else ""
            )
            for r in own
            if r.mac == mac
        )
        parts.append(f"MAC {mac}: {listed}")
    said.sentences.append(f"The Medicare payment localities of {label} in {file}: {'. '.join(parts)}.")
    floored = [r for r in own if r.pw is not None and r.pw != r.pw_floor]
    if gpcis and floored:
        floor = floored[0].on(days[-1] or floored[0].citation.effective_from).work_floor
        said.sentences.append(
            f"Work GPCIs {'with' if floor else 'without'} the work GPCI floor, which applied through "
            f"{WORK_FLOOR_LAST_DAY.isoformat()} (the file gives both)."
        )
    for r in own:
        said.cite(_cite(r.citation))
    rest = [r for r in own if r.name.upper().startswith("REST OF")]
    if rest:
        said.sentences.append(
            " ".join(
                f"Locality {r.locality}, {r.name} (MAC {r.mac}), is the rest of the state: the counties of no other "
                "locality."
                for r in rest
            )
        )
    elif len(own) > 1:
        said.sentences.append("None of them is named rest of state.")
    for r in other:
        said.cite(_cite(r.citation))
        said.sentences.append(f"ZIP codes of {state} are also in {_locality(r)}.")
    if len(rows) <= FEW:  # a short list: which counties each locality holds
        held = [(r, _counties(kb, r, days[-1], said)) for r in rows]
        if any(c for _, c in held):
            listed = "; ".join(f"locality {r.key}: {c}" for r, c in held if c)
            said.sentences.append(f"Counties ({_county_file(kb, days[-1])}), {listed}.")
    _stale(rows[0], days[-1], said)
    if why:
        said.lower("medium")
    return _make(said, _followups(kb, _where(kb, q, state, label), None, days))


def _by_locality(kb: KnowledgeBase, q: Question, key: str, days: list[date | None]) -> Answer:
    mac, _, loc = key.partition("-")
    try:
        first = gpci_row(kb, mac, loc, days[-1])
    except PricingError as e:
        return Answer(f"I could not find that locality: {e}.", confidence="low", kind=FAMILY)
    named = _named_state(kb, q)
    if named and named != first.state and not _state_of_place(kb, q.place):
        place = (q.place or "that place").title()
        why = (
            f"{place} is the name of a locality of {_state_label(kb, first.state)} ({first.name}, MAC {first.mac} "
            f"locality {first.locality}), not of one in {_state_label(kb, named)}."
        )
        return _by_state(kb, q, named, days, why, first)
    said = _Said([], [], [])
    state = _state_of_place(kb, q.place)
    if state is not None and len([r for r in state_localities(kb, state, days[-1]) if r.state == state]) == 1:
        return _by_state(kb, q, state, days)
    said.sentences.append(f"{first.name} is Medicare payment {_locality(first, named=False)}.")
    said.sentences.extend(_gpcis(kb, gpci_row(kb, mac, loc, d), d, said) for d in days)
    counties = _counties(kb, first, days[-1], said)
    if counties:
        said.sentences.append(f"Counties ({_county_file(kb, days[-1])}): {counties}.")
    where = _where(kb, q, None, _title(first.name))
    return _make(said, _followups(kb, where, _where(kb, replace(q, place=None), first.state, ""), days))


def _written_key(kb: KnowledgeBase, q: Question) -> str | None:
    """A locality written as MAC-LOC ("13202-01", which the parser may read as a ZIP code) that is in
    the GPCI file."""
    for mac, loc in _KEY.findall(q.text):
        try:
            gpci_row(kb, mac, loc)
        except PricingError:
            continue
        return f"{mac}-{loc}"
    return None


def _unknown_city(kb: KnowledgeBase, q: Question, state: str) -> str:
    """A sentence when the question names a city the locality names do not ("Buffalo, NY")."""
    place = re.escape(q.place or "")
    m = re.search(rf"((?:\b[A-Z][\w.'-]*\s+){{0,2}}\b[A-Z][\w.'-]*),\s*(?i:{place})\b", q.text)
    if not m or not q.place or _state_of_place(kb, m.group(1)):
        return ""
    kept: list[str] = []
    for word in reversed(m.group(1).split()):  # the capitalised words before the state, back to a question word
        if word.lower() in _NOT_CITY:
            break
        kept.insert(0, word)
    city = " ".join(kept)
    if not city:
        return ""
    return (
        f"{city} is not the name of a Medicare payment locality; it is in one of the localities of "
        f"{_state_label(kb, state, q.place)} below (its ZIP code tells which)."
    )


def answer_locality(kb: KnowledgeBase, q: Question) -> Answer:
    """The locality of a ZIP code, the GPCIs of a city's locality, or the localities of a state."""
    a = _answer(kb, q)
    if q.zip is None and a.citations and re.search(r"\brural\b", q.text, re.IGNORECASE):
        a = replace(
            a,
            answer=f"{a.answer} Rural and super rural are marked per ZIP code in the ZIP-to-locality file, not per "
            "locality: ask with a ZIP code.",
        )
    return a


def _answer(kb: KnowledgeBase, q: Question) -> Answer:
    days = _days(kb, q)
    key = _written_key(kb, q)
    if key:
        return _by_locality(kb, q, key, days)
    if q.zip:
        return _by_zip(kb, q, q.zip, days)
    if q.locality:
        return _by_locality(kb, q, q.locality, days)
    state = _state_of_place(kb, q.place) or _named_state(kb, q)
    if state:
        return _by_state(kb, q, state, days, _unknown_city(kb, q, state))
    return Answer(
        "I could not tell which place you mean: name a ZIP code, a city or a state "
        "(for example: which Medicare locality is Chicago?).",
        confidence="low",
        followups=("Which Medicare locality is Chicago?", "Which Medicare localities does Texas have?"),
        kind=FAMILY,
    )


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {"locality": answer_locality}
