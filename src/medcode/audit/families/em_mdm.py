"""The words of the office E/M audit (``vocab/audit/em_terms.tsv``, loaded strictly), how they are found in a
note (sections, sentences and negation from the clinical language layer), and the readers of two
elements of medical decision making: the problems addressed and the data reviewed and analyzed
(``medcode.audit.families.em`` reads the risk and the time and decides the level).

A reader returns a ``Reading``: the element's rank (0 straightforward or minimal, 1 low or limited,
2 moderate, 3 high or extensive), the note's words that decided it, and what it found in plain words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from medcode.language.context import assess
from medcode.language.note import Note
from medcode.language.text import OTHER, Sentence
from medcode.suggest.model import Evidence
from medcode.vocab import VocabularyError
from medcode.vocab.tsv import parse

TERMS_FILE = "audit/em_terms.tsv"
KINDS = {
    "section": ("assessment", "assessment_plan", "plan"),
    "problems": ("skip", "high", "flare", "worse", "complex", "stable", "chronic", "acute", "minor"),
    "data": (
        "test",
        "labs",
        "result",
        "value",
        "order",
        "review",
        "external",
        "historian",
        "interpretation",
        "discussion",
    ),
    "risk": ("high", "moderate", "low", "minimal", "manage", "rx", "meds", "otc", "conditional", "past"),
    "time": ("total", "subtract", "exclude", "procedure", "separate"),
    "patient": ("new", "established"),
}
RISK_RANK = {"minimal": 0, "low": 1, "moderate": 2, "high": 3}
# Sections whose words do not describe this visit's problems, data or management.
NOT_THIS_VISIT = frozenset({"past_history", "family_history", "medications", "allergies", "social_history"})
ASSESSMENT = ("assessment", "impression", "assessment_plan", "mdm")
PLAN = frozenset({"plan", "assessment", "impression", "assessment_plan", "mdm", "instructions"})
RESULTS = frozenset({"labs", "imaging", "findings"})
_NEGATION_WORD = re.compile(r"(?:not|no|non|never|without|poorly|in)\b")
_NEAR_NEGATION = re.compile(r"\b(?:not|no|never|without|denies|free of)\s+(?:\w+\s+)?$")
_LIST_START = re.compile(r"[ \t]*(?:[-*\u2022]|\d{1,2}[.)])?[ \t]*$")


_UNITS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen".split()
_UNITS += "seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
# "{n}" in a time pattern: a number of minutes in digits or words ("35", "thirty-five").
_TENS_WORDS, _DIGIT_WORDS, _ALL_UNITS = "|".join(_TENS), "|".join(_UNITS[:9]), "|".join(reversed(_UNITS))
NUMBER = rf"\d{{1,3}}|(?:{_TENS_WORDS})(?:[- ](?:{_DIGIT_WORDS}))?|{_ALL_UNITS}"


def number(text: str) -> int:
    """The value of a NUMBER match ("35", "thirty-five", "twelve")."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    words = re.split(r"[- ]", text)
    tens = 10 * (_TENS.index(words[0]) + 2) if words[0] in _TENS else 0
    units = _UNITS.index(words[-1]) + 1 if words[-1] in _UNITS else 0
    return tens + units


@dataclass(frozen=True)
class Term:
    element: str
    kind: str
    label: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Reading:
    rank: int | None  # None: the note does not document the element
    evidence: tuple[Evidence, ...] = ()
    detail: str = ""
    negated: bool = False  # only negated mentions were found
    minutes: int | None = None  # time only


def parse_terms(text: str, name: str = TERMS_FILE) -> dict[tuple[str, str], tuple[Term, ...]]:
    """The rows of an em_terms.tsv text by (element, kind); strict: errors name the file, line and field."""
    rows = parse(name, text, ("element", "kind", "label?", "pattern"))
    lines = [n for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.startswith("#")][1:]
    out: dict[tuple[str, str], list[Term]] = {}
    for n, row in zip(lines, rows, strict=True):
        element, kind = row["element"], row["kind"]
        if element not in KINDS:
            raise VocabularyError(f"{name} line {n}: field 'element': unknown {element!r} ({', '.join(KINDS)})")
        if kind not in KINDS[element]:
            raise VocabularyError(f"{name} line {n}: field 'kind': unknown {kind!r} ({', '.join(KINDS[element])})")
        pattern = row["pattern"].replace("{n}", f"(?:{NUMBER})") if element == "time" else row["pattern"]
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise VocabularyError(f"{name} line {n}: field 'pattern': invalid regex ({e})") from e
        if rx.search(""):
            raise VocabularyError(f"{name} line {n}: field 'pattern': matches empty text")
        if element == "time" and kind in ("total", "subtract") and not ({"min", "hr"} & set(rx.groupindex)):
            raise VocabularyError(f"{name} line {n}: field 'pattern': a {kind} time needs a group 'min' or 'hr'")
        out.setdefault((element, kind), []).append(Term(element, kind, row["label"], rx))
    missing = [f"{e}/{k}" for e, ks in KINDS.items() for k in ks if (e, k) not in out]
    if missing:
        raise VocabularyError(f"{name}: no rows for {', '.join(missing)}")
    return {k: tuple(v) for k, v in out.items()}


@cache
def terms() -> dict[tuple[str, str], tuple[Term, ...]]:
    text = resources.files("medcode.vocab").joinpath(TERMS_FILE).read_text("utf-8")
    return parse_terms(text)


def kind_terms(element: str, kind: str) -> tuple[Term, ...]:
    return terms()[(element, kind)]


def status_of(
    note: Note, start: int, end: int, *, own_negation: bool = True, result: bool = False, family_ok: bool = False
) -> str:
    """present | negated | other (historical, family, or conditional: "go to the ER if the pain comes
    back"; a plan's "will start" is this visit's decision and counts). ``own_negation``: a match that
    starts with its own negation ("not at goal") is the finding itself. ``result``: a test is still
    reviewed when the negation is its result ("strep test negative"). ``family_ok``: a relative is the
    point (the independent historian)."""
    c = assess(note, start, end)
    words = note.text[start:end].lower()
    outside = [t for t in c.triggers if not t.startswith("section:") and t not in words]
    if c.historical or c.family and not family_ok:
        return "other"
    if c.hypothetical and outside:  # a trigger inside the match is its own words ("monitoring for toxicity")
        return "other"
    if not c.negated or own_negation and _NEGATION_WORD.match(words):
        return "present"
    if result:
        results = kind_terms("data", "result")
        triggers = [t for t in c.triggers if not t.startswith("section:")]
        if triggers and all(any(r.pattern.search(t) for r in results) for t in triggers):
            return "present"
    return "negated"


def matches(note: Note, s: Sentence, element: str, kind: str) -> list[tuple[Term, int, int, str]]:
    """(term, start, end, status) of the element's words of ``kind`` in sentence ``s`` (offsets in the note)."""
    low = s.text.lower()
    out = []
    for t in kind_terms(element, kind):
        for m in t.pattern.finditer(low):
            if m.end() > m.start() and element == "problems":
                # an item whose first words are affirmed: its words are negated only right after a negation
                # ("not stable"), not by one that scopes the problem's name ("migraine without aura, stable")
                near = _NEAR_NEGATION.search(low[max(0, m.start() - 25) : m.start()])
                out.append((t, s.start + m.start(), s.start + m.end(), "negated" if near else "present"))
            elif m.end() > m.start():
                start, end = s.start + m.start(), s.start + m.end()
                result, family_ok = kind in ("test", "labs"), kind == "historian"
                status = status_of(note, start, end, result=result, family_ok=family_ok)
                if kind == "external" and status == "other":
                    status = "present"  # outside records are of the past ("records from her previous practice")
                out.append((t, start, end, status))
    return out


def ev(note: Note, start: int, end: int) -> Evidence:
    return Evidence(start, end, note.text[start:end])


def view(note: Note) -> list[Sentence]:
    """The note's sentences with the sections a header the language layer does not know opens
    ("Imp:", "Assessment / Plan:", "Tx:", "My impression is"): the header's words are left out of
    the sentence and its section holds until the next known section."""
    out = []
    override, section = None, None
    for s in note.sentences:
        if s.section != section:
            override, section = None, s.section
        low = s.text.lower()
        for name in KINDS["section"]:
            m = next((m for t in kind_terms("section", name) if (m := t.pattern.match(low))), None)
            if m:
                override = name
                s = Sentence(s.start + m.end(), s.end, s.text[m.end() :], s.section)
                break
        if s.text.strip():
            out.append(Sentence(s.start, s.end, s.text, override or s.section))
    return out


# --- problems -------------------------------------------------------------------------------


def _starts_line(note: Note, s: Sentence) -> bool:
    line = note.text.rfind("\n", 0, s.start) + 1
    return bool(_LIST_START.match(note.text[line : s.start]))


_NUMBERED = re.compile(r"#\s?\d{1,2}\b[.):]?\s*")  # "#1 CKD stage 3b" (problem-oriented notes)
_HEAD = re.compile(r"[^:,;(\-]+")
_STATUS_KINDS = ("high", "flare", "worse", "complex", "stable")
_NAME_KINDS = ("high", "complex", "chronic", "acute", "minor")


def _group(note: Note, found: list[Sentence]) -> list[list[Sentence]]:
    """One item per list line (with the sentences that continue it), or per sentence for prose."""
    lined = sum(_starts_line(note, s) for s in found) >= 2
    items: list[list[Sentence]] = []
    skip = kind_terms("problems", "skip")
    prev_section = None
    for s in found:
        new = s.section != prev_section or (_starts_line(note, s) if lined else True)
        prev_section = s.section
        if new and items and not lined and any(t.pattern.search(s.text.lower()) for t in skip):
            new = False  # "Continue lisinopril." goes with the problem before it
        if new:
            items.append([s])
        elif items:
            items[-1].append(s)
    return [it for it in items if not any(t.pattern.search(it[0].text.lower()) for t in skip)]


def _has_kind(note: Note, s: Sentence, kinds: tuple[str, ...], head: int | None = None) -> bool:
    return any(
        status == "present" and (head is None or start - s.start < head)
        for kind in kinds
        for _, start, _, status in matches(note, s, "problems", kind)
    )


def problem_items(note: Note) -> list[list[Sentence]]:
    """The problems addressed: the items of the assessment (else those of the plan that name a problem);
    in a note without either, its "#1 ..." problem lines, else its sentences that start by naming a problem and state
    its status ("Migraine without aura, stable."), else its chief complaint."""
    sentences = [s for s in view(note) if s.section not in NOT_THIS_VISIT]
    found = [s for s in sentences if s.section in ASSESSMENT]
    if found:
        return _group(note, found)
    named = [
        item
        for item in _group(note, [s for s in sentences if s.section == "plan"])
        if any(_has_kind(note, s, _NAME_KINDS + _STATUS_KINDS) for s in item)
    ]
    if named:
        return named  # a plan's items that name a problem ("1. HTN - continue lisinopril"), not "Ibuprofen, rest"
    items: list[list[Sentence]] = []
    for s in sentences:
        m = _NUMBERED.match(s.text)
        if m:
            items.append([Sentence(s.start + m.end(), s.end, s.text[m.end() :], s.section)])
        elif items and s.section == items[-1][0].section and not _starts_line(note, s):
            items[-1].append(s)
    if items:
        return items
    items = [
        [s]
        for s in sentences
        if s.section == OTHER and _has_kind(note, s, _NAME_KINDS, 40) and _has_kind(note, s, _STATUS_KINDS)
    ]
    return items or _group(note, [s for s in sentences if s.section == "chief_complaint"])


def _dropped(note: Note, s: Sentence) -> bool:
    """Whether the item's first words negate it or make it past or a relative's ("No chest pain",
    "Denies fever", "History of appendectomy"); a status after the problem ("resolved") does not."""
    head = _HEAD.match(s.text)
    end = s.start + (head.end() if head and head.end() > 0 else len(s.text))
    c = assess(note, s.start, max(end, s.start + 1))
    if not (c.negated or c.historical or c.family):
        return False
    low = s.text.lower()
    return any(re.match(rf"{re.escape(t)}\b", low) for t in c.triggers if not t.startswith("section:"))


def _classify(note: Note, item: list[Sentence]) -> tuple[str, str] | None:
    """(level kind, label) of the problem an item names (None: its first words negate it or make it past)."""
    if _dropped(note, item[0]):
        return None
    found: dict[str, str] = {}
    for s in item:
        for kind in ("high", "flare", "worse", "complex", "stable", "chronic", "acute", "minor"):
            for t, _, _, status in matches(note, s, "problems", kind):
                if status == "present":
                    found.setdefault(kind, t.label)
    if "high" in found:
        return "high", found["high"]
    if "flare" in found or ("worse" in found and "chronic" in found):
        return "moderate", found.get("flare") or found["worse"]
    if "complex" in found:
        return "moderate", found["complex"]
    if "chronic" in found or ("stable" in found and "acute" not in found and "worse" not in found):
        return "stable", kind_terms("problems", "stable")[0].label
    if "acute" in found or "worse" in found:
        return "acute", kind_terms("problems", "acute")[0].label
    if "minor" in found:
        return "minor", found["minor"]
    return "acute", "problem whose kind the note does not state (counted as one acute uncomplicated problem)"


def problems(note: Note) -> Reading:
    counted: list[tuple[str, str, Sentence]] = []
    negated = False
    for item in problem_items(note):
        kind = _classify(note, item)
        if kind is None:
            negated = True
            continue
        counted.append((*kind, item[0]))
    if not counted:
        return Reading(None, negated=negated)
    kinds = [k for k, _, _ in counted]
    stable, acute, minor = kinds.count("stable"), kinds.count("acute"), kinds.count("minor")
    if "high" in kinds:
        rank, decided = 3, {"high"}
    elif "moderate" in kinds or stable >= 2:
        rank, decided = 2, {"moderate"} if "moderate" in kinds else {"stable"}
    elif stable or acute or minor >= 2:
        rank, decided = 1, {"stable", "acute", "minor"}
    else:
        rank, decided = 0, {"minor"}
    labels: dict[str, int] = {}
    for _, label, _ in counted:
        labels[label] = labels.get(label, 0) + 1
    detail = "; ".join(f"{n} {label}" for label, n in labels.items())
    evidence = tuple(ev(note, s.start, s.end) for k, _, s in counted if k in decided)
    return Reading(rank, evidence, detail)


# --- data reviewed and analyzed -----------------------------------------------------------------


def visit_sentences(note: Note) -> list[Sentence]:
    return [s for s in view(note) if s.section not in NOT_THIS_VISIT]


def _has(note: Note, s: Sentence, element: str, kind: str) -> bool:
    """Whether the sentence has the words (a negated test is told by the test's own status)."""
    return any(status != "other" for *_, status in matches(note, s, element, kind))


def longest(found: list[tuple[Term, int, int, str]]) -> list[tuple[Term, int, int, str]]:
    """Drop matches inside a longer one ("chest x-ray" and "x-ray")."""
    return [
        a
        for a in found
        if not any(b is not a and b[1] <= a[1] and a[2] <= b[2] and b[2] - b[1] > a[2] - a[1] for b in found)
    ]


def data(note: Note) -> Reading:
    tests: dict[str, Evidence] = {}
    sources: dict[str, Evidence] = {}
    other: dict[str, Evidence] = {}  # historian, interpretation, discussion: first evidence of each
    negated = False
    for s in visit_sentences(note):
        found = longest(matches(note, s, "data", "test")) or matches(note, s, "data", "labs")[:1]
        if found:
            ordered = _has(note, s, "data", "order")
            reviewed = _has(note, s, "data", "review") or s.section in RESULTS
            values = kind_terms("data", "value")
            for t, start, end, status in found:
                valued = any(v.pattern.match(note.text[end : s.end].lower()) for v in values)  # "A1c 9.4"
                if status == "negated":
                    negated = True
                elif status == "present" and (ordered or reviewed or valued):
                    tests.setdefault(t.label, ev(note, start, end))
        for _, start, end, status in matches(note, s, "data", "external"):
            if status == "present":
                sources.setdefault(re.sub(r"\W+", " ", note.text[start:end].lower()), ev(note, start, end))
        for kind in ("historian", "interpretation", "discussion"):
            for _, start, end, status in matches(note, s, "data", kind):
                if status == "present":
                    other.setdefault(kind, ev(note, start, end))
    count = len(tests) + len(sources)
    category1 = count + ("historian" in other) >= 3
    categories = sum((category1, "interpretation" in other, "discussion" in other))
    if categories >= 2:
        rank = 3
    elif categories == 1:
        rank = 2
    elif count >= 2 or "historian" in other:
        rank = 1
    elif count or other:
        rank = 0
    else:
        return Reading(None, negated=negated)
    parts = []
    if tests:
        parts.append(f"{len(tests)} unique test(s) ordered or reviewed ({', '.join(tests)})")
    if sources:
        parts.append(f"external notes from {len(sources)} source(s)")
    labels = {k: kind_terms("data", k)[0].label for k in other}
    parts += [labels[k] for k in ("historian", "interpretation", "discussion") if k in other]
    evidence = tuple(sorted([*tests.values(), *sources.values(), *other.values()], key=lambda e: e.start))
    return Reading(rank, evidence, "; ".join(parts))
