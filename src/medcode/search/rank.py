"""Word search: candidates from the full-text index (every word group, every group but one, any
group) ranked by how much of the query each code's text answers, weighted by how rare each word
is, how much of the code's title the query explains, and coding-rule evidence (billable and
active codes, laterality, encounter, contrast, the general code when nothing more is said)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from medcode.kb.models import Expansion
from medcode.kb.store import KnowledgeBase
from medcode.search import evidence
from medcode.search.docs import DOC_COLUMNS, Doc
from medcode.search.query import Group, Parsed
from medcode.search.text import STOPWORDS, stem, words

CANDIDATES = 200
# How a word group's weight grows with its rarity: log(1 + docs / docs with the word).
UNKNOWN_WEIGHT = 1.0

MATCH_SQL = (
    "SELECT {cols}, f.score FROM (SELECT rowid, bm25(search_fts, 1.0, 0.5, 0.25) AS score FROM search_fts "
    "WHERE search_fts MATCH ? ORDER BY score LIMIT ?) f JOIN search_docs d ON d.id = f.rowid WHERE {where}"
)
MATCH_FILTERED_SQL = (
    "SELECT {cols}, bm25(search_fts, 1.0, 0.5, 0.25) AS score FROM search_fts JOIN search_docs d "
    "ON d.id = search_fts.rowid WHERE search_fts MATCH ? AND {where} ORDER BY score LIMIT ?"
)

# PFS status indicators that push a code down: M (quality measurement codes) far, I (not valid
# for Medicare) a little. Status X (paid under another fee schedule) and E are not demoted.
STATUS_WEIGHT = {"M": -1.0, "I": -0.3, "B": -0.1}
# Actions a code's title names that the user did not ask for, e.g. "removal" when searching for
# a device: the code that places the device comes first.
SECONDARY = frozenset(
    stem(w)
    for w in ("removal", "revision", "repositioning", "replacement", "sequela", "subsequent", "each", "additional")
)
NEUTRAL = frozenset(
    stem(w)
    for w in (
        *("unspecified", "other", "initial", "encounter", "nos", "procedure", "with", "without", "site", "not"),
        *("specified", "elsewhere", "classified", "primary", "essential", "closed", "unilateral", *STOPWORDS),
    )
)
# ICD-10-CM chapters for one population (pregnancy, newborns): behind the general code unless
# the query says so.
POPULATION = {"O": "pregnancy", "P": "perinatal"}
POPULATION_WORDS = frozenset(
    stem(w)
    for w in (
        *("pregnancy", "pregnant", "delivery", "postpartum", "puerperium", "puerperal", "labor", "obstetric"),
        *("antepartum", "intrapartum", "trimester", "gestation", "gestational", "maternal", "childbirth", "birth"),
        *("newborn", "neonatal", "neonate", "perinatal", "fetus", "fetal", "infant", "preterm", "premature"),
    )
)
NOT_BILLABLE = -0.8
KIND_WEIGHT = {"spelling": 0.9, "word form": 0.8}
DEFAULT = 0.3  # the general code ("unspecified", "without complications") whose other words the query has

Need = tuple[Group, float, tuple[tuple[frozenset[str], Expansion | None], ...]]


@dataclass
class Scored:
    doc: Doc
    score: float
    matched: tuple[str, ...]
    used: tuple[Expansion, ...]
    coverage: float


def quote(phrase: str) -> str:
    """An alternative as an FTS5 expression: every word of it, quoted, joined by AND."""
    kept = [w for w in words(phrase) if w not in STOPWORDS] or words(phrase)
    return "(" + " AND ".join(f'"{w}"' for w in kept) + ")" if kept else ""


def expr(group: Group) -> str:
    parts = [q for q in (quote(a) for a in group.alternatives) if q]
    return "(" + " OR ".join(parts) + ")" if parts else ""


def match(kb: KnowledgeBase, fts: str, where: str, params: list[Any]) -> list[Doc]:
    sql = (MATCH_SQL if where == "1" else MATCH_FILTERED_SQL).format(cols=DOC_COLUMNS, where=where)
    args = (fts, CANDIDATES) if where == "1" else (fts, *params, CANDIDATES)
    out = []
    for r in kb.query(sql, args):
        d = Doc(*r[:-1])
        d.bm25 = -r[-1]
        out.append(d)
    return out


def candidates(kb: KnowledgeBase, parsed: Parsed, where: str, params: list[Any]) -> dict[int, Doc]:
    """Codes whose text has every group, every group but one, or (when that finds little) any."""
    exprs = [e for e in (expr(g) for g in parsed.groups) if e]
    if not exprs:
        return {}
    found = {d.id: d for d in match(kb, " AND ".join(exprs), where, params)}
    if len(exprs) > 1:
        relaxed = (
            [" AND ".join(exprs[:i] + exprs[i + 1 :]) for i in range(len(exprs))]
            if len(exprs) <= 6
            else [" OR ".join(exprs)]
        )
        for fts in relaxed:
            for d in match(kb, fts, where, params):
                found.setdefault(d.id, d)
        if len(found) < 20 and len(exprs) <= 6:
            for d in match(kb, " OR ".join(exprs), where, params):
                found.setdefault(d.id, d)
    return found


def rank(kb: KnowledgeBase, parsed: Parsed, docs: list[Doc]) -> list[Scored]:
    """Every document scored against the query, best first."""
    if not docs:
        return []
    top = max(d.bm25 for d in docs) or 1.0
    needs = _needs(kb, parsed.groups)
    asked = {st for _, _, alts in needs for need, _ in alts for st in need}
    reading = evidence.read(parsed.text)
    out = []
    for d in docs:
        matched, used, coverage, precision = _coverage(d, needs)
        score = 4.0 * coverage + 1.0 * precision + 0.5 * d.bm25 / top + standing(d, asked) + fit(d, reading)
        if precision == 1.0 and evidence.is_default(d.title, set(d.title_stems.split())):
            score += DEFAULT
        if parsed.modifier_hint and d.system == "modifier":
            score += 2.0
        out.append(Scored(d, score, matched, used, coverage))
    out.sort(key=lambda s: (-s.score, s.doc.id))
    return out


def standing(d: Doc, asked: set[str]) -> float:
    """Active, billable, payable codes ahead of deleted ones, headers and quality measures."""
    score = STATUS_WEIGHT.get(d.status or "", 0.0)
    if not d.active:
        score -= 1.5
    if not d.billable:
        score += NOT_BILLABLE
    elif d.system == "ICD-10-CM" and len(d.code.replace(".", "")) < 5:
        score += 0.1 * (5 - len(d.code.replace(".", "")))  # a complete 3- or 4-character code
    if d.system == "modifier":
        score -= 0.2
    title = d.title_stems.split()
    if any(t in SECONDARY and t not in asked for t in title):
        score -= 0.3
    if d.system == "ICD-10-CM" and d.code[0] in POPULATION and not asked & POPULATION_WORDS:
        score -= 0.6
    return score


def fit(d: Doc, reading: evidence.Reading) -> float:
    """Evidence from the query's side, encounter and contrast against the code's title."""
    score = evidence.side_score(reading.side, evidence.doc_side(d.title))
    score += evidence.encounter_score(reading.encounter, evidence.doc_encounter(d.system, d.code, d.title))
    if reading.contrast is not None and d.system in ("CPT", "HCPCS"):
        score += evidence.contrast_score(reading.contrast, evidence.contrast(d.short or d.title))
    return score


def _df(kb: KnowledgeBase) -> tuple[dict[str, int], int]:
    memo = kb.memo.get("search.df")
    if memo is None:
        counts = dict(kb.query("SELECT word, docs FROM search_words"))
        (total,) = kb.query("SELECT count(*) FROM search_docs")[0]
        memo = kb.memo["search.df"] = (counts, int(total))
    return memo


def _weight(kb: KnowledgeBase, group: Group) -> float:
    """A word group's weight: rarer words say more (the commonest alternative's document count)."""
    counts, total = _df(kb)
    best = 0
    for alt in group.alternatives:
        ws = [w for w in words(alt) if w not in STOPWORDS] or words(alt)
        known = [counts[w] for w in ws if w in counts]
        if known and len(known) == len(ws):
            best = max(best, min(known))
    return math.log(1 + total / best) if best else UNKNOWN_WEIGHT


def _needs(kb: KnowledgeBase, groups: tuple[Group, ...]) -> tuple[Need, ...]:
    """Each group's weight and alternatives as the stems a code's text must hold to answer it."""
    out = []
    for g in groups:
        alts = []
        for alt, exp in zip(g.alternatives, (None, *g.expansions)):
            need = frozenset(stem(w) for w in words(alt) if w not in STOPWORDS) or frozenset(map(stem, words(alt)))
            if need:
                alts.append((need, exp))
        out.append((g, _weight(kb, g), tuple(alts)))
    return tuple(out)


def _coverage(d: Doc, needs: tuple[Need, ...]) -> tuple[tuple[str, ...], tuple[Expansion, ...], float, float]:
    """Which groups the code's text answers (in its title, its other names, its inclusion terms or
    only its parents), how well (0-1, weighted by the groups' weights), and how much of its title
    the answer explains (0-1)."""
    title = set(d.title_stems.split())
    name = title | set(d.alias_stems.split())
    terms = name | set(d.terms_stems.split())
    every = terms | set(d.context_stems.split())
    matched, used, total, weights = [], [], 0.0, 0.0
    explained: set[str] = set()
    for g, gw, alts in needs:
        weights += gw
        weight, best = 0.0, None
        hit: frozenset[str] = frozenset()
        for need, exp in alts:
            if need <= name:
                w = KIND_WEIGHT.get(exp.kind, 1.0) if exp is not None else 1.0
            elif need <= terms:
                w = 0.85
            elif need <= every:
                w = 0.5
            else:
                continue
            if w > weight:
                weight, best, hit = w, exp, need
        if weight:
            matched.append(g.typed)
            if best is not None:
                used.append(best)
            total += weight * gw
            explained |= hit
    shown = title - NEUTRAL - evidence.unsaid(d.title)
    precision = len(shown & explained) / len(shown) if shown else 0.0
    return tuple(matched), tuple(used), total / weights if weights else 0.0, precision


CHILD_SQL = (
    "SELECT {cols} FROM search_docs d WHERE d.compact > ? AND d.compact < ? AND length(d.compact) = ? "
    "AND d.active = 1 AND {where} ORDER BY d.compact"
)
PROMOTE_TOP = 10


def promote(kb: KnowledgeBase, parsed: Parsed, ranked: list[Scored], where: str, params: list[Any]) -> list[Scored]:
    """An ICD-10-CM header found by its words brings the billable code under it that the words
    support (the query's side and encounter, else the unspecified or uncomplicated one), just
    ahead of it: a header cannot be reported."""
    needs = _needs(kb, parsed.groups)
    reading = evidence.read(parsed.text)
    by_id = {s.doc.id: s for s in ranked}
    for s in ranked[:PROMOTE_TOP]:
        d = s.doc
        if d.system != "ICD-10-CM" or d.billable:
            continue
        child = _default_child(kb, d, needs, reading, where, params)
        if child is None:
            continue
        score = s.score - NOT_BILLABLE - 0.05
        mine = by_id.get(child.id)
        if mine is None:
            by_id[child.id] = Scored(child, score, s.matched, s.used, s.coverage)
        elif mine.score < score:
            mine.score, mine.matched, mine.used = score, s.matched or mine.matched, s.used or mine.used
    out = list(by_id.values())
    out.sort(key=lambda x: (-x.score, x.doc.id))
    return out


def _default_child(
    kb: KnowledgeBase, d: Doc, needs: tuple[Need, ...], reading: evidence.Reading, where: str, params: list[Any]
) -> Doc | None:
    """Down the tree from a header, one level at a time, to a billable code."""
    compact = d.code.replace(".", "")
    for _ in range(4):
        kids = [
            Doc(*r)
            for r in kb.query(
                CHILD_SQL.format(cols=DOC_COLUMNS, where=where), (compact, compact + "~", len(compact) + 1, *params)
            )
        ]
        if not kids and len(compact) < 7:  # 7th characters after a placeholder X (S72.90XA under S72.90)
            kids = [
                Doc(*r)
                for r in kb.query(
                    CHILD_SQL.format(cols=DOC_COLUMNS, where=where),
                    (compact, compact + "~", 7, *params),
                )
            ]
        if not kids:
            return None
        best = max(kids, key=lambda k: (_child_score(k, needs, reading), -k.id))
        if best.billable:
            return best
        compact = best.code.replace(".", "")
    return None


def _child_score(d: Doc, needs: tuple[Need, ...], reading: evidence.Reading) -> float:
    _, _, coverage, precision = _coverage(d, needs)
    title = set(d.title_stems.split())
    score = 2.0 * coverage + precision + (1.0 if evidence.is_default(d.title, title) else 0.0)
    score += evidence.side_score(reading.side, evidence.doc_side(d.title))
    score += evidence.encounter_score(reading.encounter, evidence.doc_encounter(d.system, d.code, d.title))
    if stem("other") in title:
        score -= 0.5
    return score
