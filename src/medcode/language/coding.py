"""Coding rules for ICD-10-CM diagnoses found in a note (one rule, one place; the rules' data are
``vocab/history_codes.tsv``, ``vocab/combination_codes.tsv`` and ``vocab/chronic_conditions.tsv``):

- context: a negated or hypothetical mention is not coded; an uncertain diagnosis is not coded (the
  outpatient guidelines code the symptoms instead); a past condition becomes its personal history code
  (Z85/Z86/Z87) and a relative's its family history code (Z80-Z84), when one fits;
- the billable code the words support: a header goes to the child that names the side the note states
  and the 7th character of its encounter, else to its unspecified child; an "unspecified side" code goes
  to the sibling of the stated side; a 7th character follows the encounter;
- combination codes (hypertension with heart or kidney disease, diabetes with its complications);
- Excludes1: of two codes that exclude each other, the weaker (lower confidence, then less specific)
  goes.

With a ``gate`` (``apply(..., gate=CONFIDENT)``: the pipeline passes one for a narrative note with
no section headers, such as a case report), a code whose confidence is at least the gate
stands on its own evidence: the rules that only judge it redundant (a past condition, Excludes1, an
unspecified code beside a more specific one, a symptom a diagnosis accounts for) do not drop it, and
it goes to a more specific sibling only when the note states all of that sibling's words. The gate is
tuned on CodiEsp dev through the whole ``medcode.suggest`` call (CodiEsp's coders report such codes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import Any

from medcode.kb.store import KnowledgeBase
from medcode.language.context import Context
from medcode.language.icd_table import Row, Table
from medcode.vocab.tsv import read

CONFIDENT = 0.25  # confidence at or above which a code stands on its own evidence (tuned on CodiEsp dev)


def confident(dx: Dx, gate: float | None) -> bool:
    """``dx`` stands on its own evidence (never without a gate)."""
    return gate is not None and dx.confidence >= gate


@dataclass(frozen=True)
class Dx:
    """A diagnosis candidate: ``evidence`` is carried along untouched; ``context`` is the mention's."""

    code: str
    confidence: float
    evidence: tuple[Any, ...]
    why: str
    context: Context = field(default_factory=Context)
    section: str = ""
    position: int = 0  # offset of the first evidence in the note (reporting order)
    rule: str = ""  # the coding rule that made this code (for "why")


# --- the rules' data ---------------------------------------------------------------------------


def _longest(prefixes: dict[str, Any], code: str) -> Any:
    for n in range(len(code), 0, -1):
        if code[:n] in prefixes:
            return prefixes[code[:n]]
    return None


@cache
def history_codes() -> dict[str, tuple[str, str]]:
    return {
        r["prefix"]: (r["personal"], r["family"]) for r in read("history_codes.tsv", ("prefix", "personal?", "family?"))
    }


@cache
def chronic() -> frozenset[str]:
    return frozenset(r["prefix"] for r in read("chronic_conditions.tsv", ("prefix",)))


def is_chronic(code: str) -> bool:
    return any(code.startswith(p) for p in chronic())


@dataclass(frozen=True)
class Combination:
    name: str
    when: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...]
    drop: tuple[str, ...]
    add: str
    why: str


@cache
def combinations() -> tuple[Combination, ...]:
    return tuple(
        Combination(
            r["name"],
            tuple(tuple(g.split()) for g in r["when"].split(" & ")),
            tuple(r["unless"].split()),
            tuple(r["drop"].split()),
            r["add"],
            r["why"],
        )
        for r in read("combination_codes.tsv", ("name", "when", "unless?", "drop", "add?", "why"))
    )


def _has(codes: Iterable[str], prefixes: Iterable[str]) -> bool:
    return any(c.startswith(p) for c in codes for p in prefixes)


# --- rules ---------------------------------------------------------------------------------------

# How a fracture heals, as the 7th-character definitions word it (routine healing when none is said).
HEALING = ("delayed healing", "nonunion", "malunion")
_UNSPECIFIED = re.compile(r"\bunspecified\b")


def _by_side(rows: list[Row], side: str | None) -> list[Row]:
    if side is None:
        return rows
    named = [r for r in rows if re.search(rf"\b{side}\b", r.description.lower())]
    return named or rows


def _seventh(table: Table, code: str, encounter: str | None, words: str) -> str | None:
    """The 7th character for ``encounter`` among the definitions of ``code``'s nearest ancestor."""
    defs = []
    for anc in [code, *table.ancestors(code)]:
        defs = [t for _, t in table.notes([anc], "seven_chr_def")]
        if defs:
            break
    if not defs:
        return None
    want = {"initial": "initial encounter", "subsequent": "subsequent encounter", "sequela": "sequela"}[
        encounter or "initial"
    ]
    fitting = [d for d in defs if d.partition(": ")[2].startswith(want)]
    if encounter in (None, "initial", "subsequent") and fitting:
        kind = "open" if re.search(r"\bopen\b", words) else "closed"
        fitting = [d for d in fitting if kind in d] or fitting
        if encounter == "subsequent":
            healing = next((h for h in HEALING if re.search(rf"\b{h}\b", words)), "routine healing")
            fitting = [d for d in fitting if healing in d] or fitting
    return fitting[0].partition(": ")[0] if fitting else None


def billable(table: Table, dx: Dx, words: str, notices: list[str]) -> Dx | None:
    """``dx`` at a billable code the words support, or None when the code does not exist."""
    code, row = dx.code, table.row(dx.code)
    if row is None:
        return None
    side = dx.context.laterality
    for _ in range(4):
        if row.billable:
            break
        kids = table.children(row.code)
        if not kids:
            return None
        if kids[0].kind == "extension":
            char = _seventh(table, row.code, dx.context.encounter, words)
            pick = next((k for k in kids if char and k.code.endswith(char)), None)
            if dx.context.encounter is None:
                notices.append(f"A 7th character needs the encounter type: {row.code} coded as an initial encounter.")
            row = pick or kids[0]
            continue
        if side is None and any(re.search(r"\b(?:right|left)\b", k.description.lower()) for k in kids):
            notices.append(f"Laterality not stated for {row.code} ({row.description}): coded without a side.")
        kids = _by_side(kids, side)
        stated = [k for k in kids if not _UNSPECIFIED.search(k.description.lower())]
        words_fit = [k for k in stated if _fits(k.description, words)]
        row = (
            words_fit[0]
            if len(words_fit) == 1
            else next((k for k in kids if _UNSPECIFIED.search(k.description.lower())), kids[-1])
        )
    if not row.billable:
        return None
    return replace(dx, code=row.code, rule=dx.rule or ("billable child" if row.code != code else ""))


_STOP = frozenset("of the and or with without in on to a an for by other".split())


def _fits(description: str, words: str) -> bool:
    """Every content word of what distinguishes a child (after its parent's words) is in the note's words."""
    own = [w for w in re.findall(r"[a-z0-9]+", description.lower()) if w not in _STOP]
    return bool(own) and set(own[-2:]) <= _tokens(words)


def _tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def specific(table: Table, dx: Dx, words: str, gate: float | None = None) -> Dx:
    """An unspecified code goes to the sibling whose own words the note states (stage 3 of a chronic kidney
    disease, "with" a named complication): every number of the sibling's own words, and at least half of
    them (all of them for a ``confident`` code), are in the note's words; the sibling then goes to its
    billable code. Siblings are the codes of one category (not of a block of categories); a sibling that
    says "without" what the code does not is not taken from words (the words name what is there)."""
    row = table.row(dx.code)
    if row is None or row.parent is None or "unspecified" not in row.description.lower() or "-" in row.parent:
        return dx
    have = _tokens(words)
    mine = _tokens(row.description)
    without = "without" in row.description.lower()
    best: tuple[int, Row] | None = None
    for sib in table.children(row.parent):
        if sib.code == row.code or ("without" in sib.description.lower() and not without):
            continue
        extra = _tokens(sib.description) - mine
        numbers = {w for w in extra if w.isdigit()}
        hit = extra & have
        stated = extra - _tokens(" ".join(re.findall(r"\(([^()]*)\)", sib.description)))  # (words) are optional
        enough = stated <= have if confident(dx, gate) else 2 * len(hit) >= len(extra)
        if extra and numbers <= have and enough and (best is None or len(hit) > best[0]):
            best = (len(hit), sib)
    if best is None:
        return dx
    return replace(dx, code=best[1].code, rule="the note's words name a more specific code")


def sided(table: Table, dx: Dx) -> Dx:
    """An "unspecified side" code goes to its sibling of the side the note states (a code with a 7th
    character: the sibling of its base code, with the same 7th character)."""
    side = dx.context.laterality
    row = table.row(dx.code)
    if side is None or row is None or row.parent is None:
        return dx
    seventh = ""
    if row.kind == "extension":
        seventh, row = dx.code[-1], table.row(row.parent)
        if row is None or row.parent is None:
            return dx
    desc = row.description.lower()
    starts = [m.start() for m in re.finditer(r"\bunspecified\b", desc)]
    wanted = {desc[:i] + side + desc[i + len("unspecified") :] for i in starts}
    if not wanted or row.parent is None:
        return dx
    for sib in table.children(row.parent):
        if sib.description.lower() in wanted:
            code = sib.code
            if seventh:
                code = next((k.code for k in table.children(sib.code) if k.code.endswith(seventh)), "")
            found = table.row(code) if code else None
            if found is not None and found.billable:
                return replace(dx, code=found.code, rule="laterality")
    return dx


def encounter(table: Table, dx: Dx, words: str) -> Dx:
    """A code with a 7th character takes the one of the stated encounter."""
    row = table.row(dx.code)
    if row is None or row.kind != "extension" or row.parent is None or dx.context.encounter is None:
        return dx
    char = _seventh(table, row.parent, dx.context.encounter, words)
    if char and not dx.code.endswith(char):
        sib = table.row(dx.code[:-1] + char)
        if sib is not None and sib.billable:
            return replace(dx, code=sib.code, rule="encounter")
    return dx


def by_context(dx: Dx, notices: list[str], mention: str, gate: float | None = None) -> Dx | None:
    """The code the mention's context allows: None for negated, hypothetical and uncertain mentions."""
    c = dx.context
    if c.negated or c.hypothetical:
        return None
    if c.uncertain and not dx.code.startswith("R") and not confident(dx, gate):
        notices.append(f"Uncertain diagnosis '{mention}' not coded; the symptoms documented are coded instead.")
        return None
    if c.family:
        fam = _longest({k: v[1] for k, v in history_codes().items() if v[1]}, dx.code)
        return replace(dx, code=fam, rule=f"family history of {dx.code}") if fam else None
    if c.historical:
        if confident(dx, gate):  # the evidence supports a current condition ("a history of two days of fever")
            return dx
        if is_chronic(dx.code) and "history of" not in c.triggers:
            return replace(dx, confidence=dx.confidence * 0.8)
        own = _longest({k: v[0] for k, v in history_codes().items() if v[0]}, dx.code)
        return replace(dx, code=own, rule=f"personal history of {dx.code}") if own else None
    return dx


def combine(items: list[Dx], notices: list[str]) -> list[Dx]:
    """Combination codes (``vocab/combination_codes.tsv``)."""
    for rule in combinations():
        codes = [d.code for d in items]
        if not all(_has(codes, g) for g in rule.when) or _has(codes, rule.unless):
            continue
        members = [d for d in items if any(d.code.startswith(p) for g in rule.when for p in g)]
        dropped = [d for d in items if _has([d.code], rule.drop)]
        items = [d for d in items if d not in dropped]
        if rule.add and rule.add not in [d.code for d in items]:
            first = min(members, key=lambda d: (d.position, -d.confidence))
            evidence = tuple(e for d in members for e in d.evidence)
            conf = max(d.confidence for d in members)
            items.append(
                replace(first, code=rule.add, confidence=conf, evidence=evidence, why=rule.why, rule=rule.name)
            )
        notices.append(rule.why)
    return items


_REF = re.compile(
    r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?(?:\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?))?"
)


def _refs(text: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for group in re.findall(r"\(([^()]*)\)", text):
        out.extend((m.group(1), m.group(2)) for m in _REF.finditer(group))
    return out


def _covers(ref: tuple[str, str | None], code: str) -> bool:
    lo, hi = ref
    if hi is None:
        return code.startswith(lo)
    return lo[:3] <= code[:3] <= hi[:3]


def excludes1(table: Table, items: list[Dx], notices: list[str], gate: float | None = None) -> list[Dx]:
    """Of two codes that an Excludes1 note keeps apart, the weaker one goes."""
    gone: set[str] = set()
    for a in items:
        chain = [a.code, *table.ancestors(a.code)]
        refs = [r for _, text in table.notes(chain, "excludes1") for r in _refs(text)]
        for b in items:
            if b.code == a.code or b.code in gone or a.code in gone or b.code in chain:
                continue
            if any(_covers(r, b.code) for r in refs):
                weak = min((a, b), key=lambda d: (d.confidence, len(d.code)))
                if confident(weak, gate):
                    continue
                gone.add(weak.code)
                strong = b if weak is a else a
                notices.append(f"Excludes1: {weak.code} is not reported with {strong.code}; kept {strong.code}.")
    return [d for d in items if d.code not in gone]


def _said_more(table: Table, dx: Dx, items: list[Dx], gate: float | None = None) -> bool:
    """An unspecified code is not reported beside a code of its category that says more."""
    row = table.row(dx.code)
    if row is None or "unspecified" not in row.description.lower() or confident(dx, gate):
        return False
    return any(o.code != dx.code and o.code[:3] == dx.code[:3] and len(o.code) >= len(dx.code) for o in items)


def apply(
    kb: KnowledgeBase,
    items: list[Dx],
    day: date | None,
    words: Callable[[Dx], str],
    notices: list[str],
    gate: float | None = None,
) -> list[Dx]:
    """The coding rules over ``items``; ``words(dx)`` gives the lower-case words of the note around a
    candidate (its sentence). Codes that do not exist or are not billable on the date are dropped.
    ``gate``: the confidence at which a code stands on its own evidence (see the module docstring)."""
    table = Table(kb, day)
    out: list[Dx] = []
    for dx in items:
        w = words(dx)
        d = by_context(dx, notices, str(getattr(dx.evidence[0], "text", w)) if dx.evidence else w.strip(), gate)
        if d is None:
            continue
        d = billable(table, d, w, notices)
        if d is None:
            continue
        d = billable(table, specific(table, d, w, gate), w, notices) or d
        d = encounter(table, sided(table, d), w)
        if all(o.code != d.code for o in out):
            out.append(d)
        else:  # the same code twice (e.g. two mentions): keep the stronger
            out = [max(o, d, key=lambda x: x.confidence) if o.code == d.code else o for o in out]
    out = [d for d in out if not _said_more(table, d, out, gate)]
    out = combine(out, notices)
    out = [d for d in (billable(table, d, words(d), notices) for d in out) if d is not None]
    return excludes1(table, out, notices, gate)
