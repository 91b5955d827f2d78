"""Context of a mention in a note: negated, uncertain, historical, family, hypothetical, laterality, encounter.

Our own implementation of the ConText algorithm (Chapman et al.): trigger phrases from
``vocab/context_rules.tsv`` act forward, backward or both ways over a scope that ends at the sentence
end, at ";", at a termination word ("but", "however", "reports"), at a comma followed by another
trigger, or after the rule's number of words. Pseudo-triggers ("no change", "gram negative") hide the
shorter trigger inside them. Sections add meaning too: a mention in the past history is historical,
one in the family history is family. Laterality is read from the mention's own words first, then
from the nearest laterality word in its clause (commas and semicolons end a clause), then from the
only side named between the semicolons around it; the encounter (7th character) from the nearest
encounter phrase in the sentence, else from the whole note.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from medcode.language.text import tokens
from medcode.vocab import VocabularyError

if TYPE_CHECKING:
    from medcode.language.note import Note

RULES_FILE = "context_rules.tsv"
CATEGORIES = ("negated", "uncertain", "historical", "family", "hypothetical")
LATERALITY = ("right", "left", "bilateral")
ENCOUNTER = ("initial", "subsequent", "sequela")
DIRECTIONS = ("forward", "backward", "bidirectional", "terminate", "pseudo")
BACKWARD_WORDS = 6  # how far a backward trigger reaches when its rule gives no scope
# how far a forward trigger reaches when its rule gives no scope: a long list of denied symptoms fits,
# a run-on dictation with no punctuation does not carry one "no" to its end
FORWARD_WORDS = 15
# "and"/"then" before one of these (or a word in -ed) starts a new clause, which ends a scope:
# "mixed without antibiotic and placed in the canal", "no bleeding and then was discharged"
CLAUSE_VERBS = frozenset({"was", "were", "is", "are", "then", "we", "i", "he", "she", "they"})
# Sections whose every mention takes a category.
SECTION_CONTEXT = {"past_history": "historical", "family_history": "family"}
# Sections whose encounter words do not describe this visit.
NO_ENCOUNTER_SECTIONS = frozenset({"instructions", "past_history", "family_history"})


@dataclass(frozen=True)
class Context:
    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    laterality: str | None = None  # "right" | "left" | "bilateral"
    encounter: str | None = None  # "initial" | "subsequent" | "sequela"
    triggers: tuple[str, ...] = ()  # the trigger phrases that applied (for "why")


@dataclass(frozen=True)
class Rule:
    phrase: str
    category: str  # a CATEGORY, "all" (terminate only), "laterality:<side>" or "encounter:<kind>"
    direction: str
    scope: int | None

    @property
    def group(self) -> str:
        return self.category.partition(":")[0] if ":" in self.category else "context"


@dataclass
class _Group:
    phrases: dict[tuple[str, ...], list[Rule]] = field(default_factory=dict)
    longest: int = 0


def _check(n: int, fields: list[str]) -> Rule:
    where = f"{RULES_FILE} line {n}"
    if len(fields) not in (3, 4) or not all(f and f == f.strip() for f in fields):
        raise VocabularyError(f"{where}: expected phrase<TAB>category<TAB>direction[<TAB>scope]")
    phrase, category, direction = fields[:3]
    if " ".join(t.norm for t in tokens(phrase)) != phrase:
        raise VocabularyError(f"{where}: phrase {phrase!r} must be lower-case words separated by one space")
    if direction not in DIRECTIONS:
        raise VocabularyError(f"{where}: direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    kind, _, value = category.partition(":")
    if kind in ("laterality", "encounter"):
        if value not in (LATERALITY if kind == "laterality" else ENCOUNTER) or direction not in (
            "bidirectional",
            "pseudo",
        ):
            raise VocabularyError(f"{where}: category {category!r} with direction {direction!r} is not allowed")
    elif category not in CATEGORIES and not (category == "all" and direction == "terminate"):
        raise VocabularyError(f"{where}: unknown category {category!r}")
    scope = None
    if len(fields) == 4:
        if not fields[3].isdigit() or int(fields[3]) < 1:
            raise VocabularyError(f"{where}: scope {fields[3]!r} must be a positive number of words")
        scope = int(fields[3])
    return Rule(phrase, category, direction, scope)


def parse_rules(text: str) -> dict[str, _Group]:
    """The rules of a context_rules.tsv text, grouped ("context", "laterality", "encounter")."""
    groups: dict[str, _Group] = {"context": _Group(), "laterality": _Group(), "encounter": _Group()}
    seen: set[tuple[str, str]] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        rule = _check(n, line.split("\t"))
        if (rule.phrase, rule.category) in seen:
            raise VocabularyError(f"{RULES_FILE} line {n}: duplicate rule {rule.phrase!r} {rule.category}")
        seen.add((rule.phrase, rule.category))
        group = groups[rule.group]
        key = tuple(rule.phrase.split(" "))
        group.phrases.setdefault(key, []).append(rule)
        group.longest = max(group.longest, len(key))
    return groups


@cache
def rules() -> dict[str, _Group]:
    return parse_rules(resources.files("medcode.vocab").joinpath(RULES_FILE).read_text("utf-8"))


@dataclass(frozen=True)
class _Match:
    start: int  # token index
    end: int
    rules: tuple[Rule, ...]


def _match(norms: list[str], group: _Group) -> list[_Match]:
    """Longest phrase first at each position, left to right, without overlap."""
    out = []
    i, n = 0, len(norms)
    while i < n:
        for size in range(min(group.longest, n - i), 0, -1):
            found = group.phrases.get(tuple(norms[i : i + size]))
            if found:
                out.append(_Match(i, i + size, tuple(found)))
                i += size
                break
        else:
            i += 1
    return out


@dataclass(frozen=True)
class _Sentence:
    spans: tuple[tuple[int, int], ...]  # token offsets relative to the sentence
    semicolon: tuple[bool, ...]  # a ";" just before token k
    comma: tuple[bool, ...]  # a "," just before token k
    clause: tuple[bool, ...]  # token k starts a new clause ("and placed", "and then", "and was")
    context: tuple[_Match, ...]
    laterality: tuple[_Match, ...]
    encounter: tuple[_Match, ...]


_SIDE_LETTERS = {"R": "right", "L": "left"}


@lru_cache(maxsize=4096)
def _analyse(text: str) -> _Sentence:
    toks = tokens(text)
    gaps = [text[toks[k - 1].end if k else 0 : t.start] for k, t in enumerate(toks)]
    norms = [t.norm for t in toks]
    groups = rules()
    sides = list(norms)
    for k, t in enumerate(toks):  # "R knee", "L ankle" (not "2 L" of oxygen)
        after_word = k + 1 < len(toks) and toks[k + 1].text[0].isalpha()
        if t.text in _SIDE_LETTERS and after_word and (k == 0 or not toks[k - 1].text[0].isdigit()):
            sides[k] = _SIDE_LETTERS[t.text]
    clause = [
        k > 0
        and norms[k] in ("and", "then")
        and k + 1 < len(norms)
        and (norms[k + 1] in CLAUSE_VERBS or (len(norms[k + 1]) > 4 and norms[k + 1].endswith("ed")))
        for k in range(len(norms))
    ]
    return _Sentence(
        tuple((t.start, t.end) for t in toks),
        tuple(";" in g for g in gaps),
        tuple("," in g for g in gaps),
        tuple(clause),
        tuple(_match(norms, groups["context"])),
        tuple(_match(sides, groups["laterality"])),
        tuple(_match(norms, groups["encounter"])),
    )


def _terminates(match: _Match, category: str) -> bool:
    return any(r.direction == "terminate" and r.category in ("all", category) for r in match.rules)


def _is_trigger(match: _Match) -> bool:
    return any(r.direction != "pseudo" for r in match.rules)


def _scope(s: _Sentence, m: _Match, rule: Rule) -> tuple[int, int]:
    """Token range [lo, hi) that the trigger ``m`` reaches."""
    starts = {x.start: x for x in s.context if _is_trigger(x)}
    # a backward scope stops after another trigger, or after a termination word of this category
    ends = {
        x.end - 1: x
        for x in s.context
        if _terminates(x, rule.category) or any(r.direction not in ("terminate", "pseudo") for r in x.rules)
    }
    n = len(s.spans)
    lo, hi = m.start, m.end
    if rule.direction in ("forward", "bidirectional"):
        limit = min(n, m.end + (rule.scope or FORWARD_WORDS))
        k = m.end
        while k < limit:
            if s.semicolon[k] or s.clause[k] or (s.comma[k] and k in starts and k > m.end):
                break
            if k in starts and _terminates(starts[k], rule.category):
                break
            k += 1
        hi = k
    if rule.direction in ("backward", "bidirectional"):
        limit = max(0, m.start - (rule.scope or BACKWARD_WORDS))
        k = m.start - 1
        while k >= limit:
            if s.semicolon[k + 1] or s.comma[k + 1] or k in ends:
                break
            k -= 1
        lo = k + 1
    return lo, hi


def _mention_tokens(s: _Sentence, start: int, end: int) -> tuple[int, int]:
    """Token range [first, last+1) overlapping the mention (relative offsets); empty range if none."""
    idx = [k for k, (a, b) in enumerate(s.spans) if a < end and b > start]
    return (idx[0], idx[-1] + 1) if idx else (0, 0)


def _side(m: _Match) -> str:
    return next(r.category.partition(":")[2] for r in m.rules if r.direction != "pseudo")


def _laterality(s: _Sentence, first: int, last: int) -> tuple[str | None, str | None]:
    found = [m for m in s.laterality if _is_trigger(m)]
    inside = {_side(m) for m in found if m.start < last and m.end > first}
    if inside:
        return ("bilateral" if len(inside) > 1 else inside.pop()), "mention"
    # the clause: between the nearest ";" or "," on either side of the mention
    lo = first
    while lo > 0 and not (s.semicolon[lo] or s.comma[lo]):
        lo -= 1
    hi = last
    while hi < len(s.spans) and not (s.semicolon[hi] or s.comma[hi]):
        hi += 1
    near = [m for m in found if m.start >= lo and m.end <= hi]
    if near:
        best = min(near, key=lambda m: (first - m.end + 1 if m.end <= first else m.start - last + 1, m.start > first))
        return _side(best), "clause"
    # else the one side named in the part of the sentence between semicolons ("Pain, right knee")
    lo, hi = first, last
    while lo > 0 and not s.semicolon[lo]:
        lo -= 1
    while hi < len(s.spans) and not s.semicolon[hi]:
        hi += 1
    sides = {_side(m) for m in found if m.start >= lo and m.end <= hi}
    return (sides.pop(), "clause") if len(sides) == 1 else (None, None)


def _encounter_of(matches: tuple[_Match, ...]) -> list[tuple[_Match, str]]:
    return [(m, _side(m)) for m in matches if _is_trigger(m)]


@lru_cache(maxsize=64)
def _note_encounter(note: Note) -> tuple[str, str] | None:
    """(kind, phrase) for the whole note: sequela over subsequent over initial."""
    best: tuple[int, str, str] | None = None
    for sentence in note.sentences:
        if sentence.section in NO_ENCOUNTER_SECTIONS:
            continue
        for m, kind in _encounter_of(_analyse(sentence.text).encounter):
            rank = ENCOUNTER.index(kind)
            if best is None or rank > best[0]:
                phrase = " ".join(r.phrase for r in m.rules[:1])
                best = (rank, kind, phrase)
    return (best[1], best[2]) if best else None


def assess(note: Note, start: int, end: int) -> Context:
    """The context of the mention ``note.text[start:end]``."""
    if not 0 <= start < end <= len(note.text):
        raise ValueError(f"mention [{start}, {end}) is not inside the note (length {len(note.text)})")
    flags = dict.fromkeys(CATEGORIES, False)
    triggers: list[str] = []
    starts = [s.start for s in note.sentences]
    i = bisect.bisect_right(starts, start) - 1
    sentence = note.sentences[i] if i >= 0 and note.sentences[i].end > start else None
    section = sentence.section if sentence else _section_at(note, start)
    if section in SECTION_CONTEXT:
        flags[SECTION_CONTEXT[section]] = True
        triggers.append(f"section:{section}")
    laterality = encounter = None
    if sentence is not None:
        s = _analyse(sentence.text)
        first, last = _mention_tokens(s, start - sentence.start, end - sentence.start)
        for m in s.context:
            for rule in m.rules:
                if rule.category not in CATEGORIES or rule.direction in ("terminate", "pseudo"):
                    continue
                lo, hi = _scope(s, m, rule)
                if lo < last and hi > first:
                    flags[rule.category] = True
                    triggers.append(rule.phrase)
        if first < last:
            laterality, _ = _laterality(s, first, last)
            here = _encounter_of(s.encounter)
            if here:
                m, encounter = min(here, key=lambda x: abs(x[0].start - first))
                triggers.append(m.rules[0].phrase)
    if encounter is None and not (flags["historical"] or flags["family"]):  # the visit's encounter
        found = _note_encounter(note)
        if found:
            encounter, phrase = found
            triggers.append(phrase)
    return Context(**flags, laterality=laterality, encounter=encounter, triggers=tuple(dict.fromkeys(triggers)))


def _section_at(note: Note, offset: int) -> str | None:
    for section in note.sections:
        if section.start <= offset < section.end:
            return section.name
    return None
