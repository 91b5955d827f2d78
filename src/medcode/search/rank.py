"""Word search: candidates from the full-text index (every word group, every group but one, any
group) ranked by how much of the query each code's text answers, weighted by how rare each word
is, how much of the code's title the query explains, and coding-rule evidence (billable and
active codes, laterality, encounter, contrast, the general code when nothing more is said)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from medcode.kb.models import Expansion
from medcode.kb.store import KnowledgeBase
from medcode.language.words import STOPWORDS, stem, words
from medcode.search import evidence
from medcode.search.docs import DOC_COLUMNS, Doc
from medcode.search.query import Group, Parsed

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
KIND_WEIGHT = {"spelling": 0.9, "word form": 0.8, "region": 0.7}
KNOWN_SPELLING = 0.6
PARTIAL_WEIGHT = 0.9
DEFAULT = 0.3  # the general code ("unspecified", "without complications") whose other words the query has

Need = tuple[Group, float, tuple[tuple[frozenset[str], Expansion | None, float], ...]]


@dataclass
class Scored:
    doc: Doc
    score: float
    matched: tuple[str, ...]
    used: tuple[Expansion, ...]
    coverage: float
    precision: float = 0.0


def quote(phrase: str) -> str:
    """An alternative as an FTS5 expression: every word of it, quoted, joined by AND (a phrase of
    three or more words: all but any one of them)."""
    kept = list(dict.fromkeys([w for w in words(phrase) if w not in STOPWORDS] or words(phrase)))
    if len(kept) >= PARTIAL:
        return "(" + " OR ".join(_all(kept[:i] + kept[i + 1 :]) for i in range(len(kept))) + ")"
    return _all(kept) if kept else ""


def _all(ws: list[str]) -> str:
    return "(" + " AND ".join(f'"{w}"' for w in ws) + ")"


PARTIAL = 3  # words: an alternative this long answers a group with one of its words missing


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


@dataclass(frozen=True)
class Asked:
    """A query as ranking reads it: its groups with their weights and stems, its side, encounter
    and contrast."""

    parsed: Parsed
    needs: tuple[Need, ...]
    stems: frozenset[str]
    reading: evidence.Reading
    exprs: tuple[tuple[str, float], ...]  # each group's FTS expression and document count


def prepare(kb: KnowledgeBase, parsed: Parsed) -> Asked:
    needs = _needs(kb, parsed.groups)
    stems = frozenset(st for _, _, alts in needs for need, _, _ in alts for st in need)
    counts = tuple(_docs_with(kb, g) for g in parsed.groups)
    exprs = tuple(
        (e, n) for g, e, n in zip(parsed.groups, (expr(g) for g in parsed.groups), counts) if e and g.typed not in LINKS
    )
    return Asked(parsed, needs, stems, evidence.read(parsed.text), exprs)


def candidates(kb: KnowledgeBase, asked: Asked, where: str, params: list[Any]) -> dict[int, Doc]:
    """Codes whose text has every group, every group but one, or (when that finds little) any of
    the rarer groups."""
    exprs = [e for e, _ in asked.exprs]
    if not exprs:
        return {}
    found = {d.id: d for d in match(kb, " AND ".join(exprs), where, params)}
    if len(exprs) > 1 and len(exprs) <= MAX_RELAX:
        for i in range(len(exprs)):
            for d in match(kb, " AND ".join(exprs[:i] + exprs[i + 1 :]), where, params):
                found.setdefault(d.id, d)
    if len(found) < FEW and len(exprs) > 1:
        rare = [e for e, n in sorted(asked.exprs, key=lambda x: x[1]) if 0 < n <= COMMON][:MAX_RELAX]
        if rare:
            for d in match(kb, " OR ".join(rare), where, params):
                found.setdefault(d.id, d)
    return found


# Words that join the query's ideas: weighed in ranking, not asked of the full-text index (they
# are in most documents, and the code for "x with y" may say "y" in other words).
LINKS = frozenset({"with", "w", "w/", "and", "&", "or"})
MAX_RELAX = 6  # groups; a longer query is searched by every group, then by any of its rarer groups
FEW = 20
COMMON = 3000  # documents: a group this common does not find candidates on its own


def rank(kb: KnowledgeBase, asked: Asked, docs: list[Doc], extra: dict[int, set[str]] | None = None) -> list[Scored]:
    """Every document scored against the query, best first. ``extra``: more stems of a document's
    terms (the concept index's term that found it), read as its inclusion terms are."""
    if not docs:
        return []
    top = max(d.bm25 for d in docs) or 1.0
    out = []
    for d in docs:
        f = features(kb, d)
        if extra and d.id in extra:
            more = frozenset(extra[d.id])
            f = replace(f, terms=f.terms | more, every=f.every | more)
        matched, used, coverage, precision = _coverage(f, asked.needs)
        score = 4.0 * coverage + 1.0 * precision + 0.5 * d.bm25 / top
        out.append(Scored(d, score, matched, used, coverage, precision))
    out.sort(key=lambda s: (-s.score, s.doc.id))
    for s in out[:EVIDENCE_TOP]:
        f = features(kb, s.doc)
        s.score += standing(s.doc, f, asked.stems) + fit(s.doc, f, asked.reading)
        if f.default and s.precision == 1.0:
            s.score += DEFAULT
        if asked.parsed.modifier_hint and s.doc.system == "modifier":
            s.score += 2.0
    for s in out[EVIDENCE_TOP:]:
        s.score -= 10.0
    out.sort(key=lambda s: (-s.score, s.doc.id))
    return out


EVIDENCE_TOP = 150  # candidates (by their words) weighed with the coding-rule evidence


@dataclass(frozen=True)
class Features:
    """What ranking reads of a document, derived once."""

    title: frozenset[str]
    name: frozenset[str]
    terms: frozenset[str]
    every: frozenset[str]
    shown: frozenset[str]  # title stems a query should explain
    side: str | None
    encounter: str | None
    contrast: str | None
    default: bool


def features(kb: KnowledgeBase, d: Doc) -> Features:
    cache = kb.memo.get("search.features")
    if cache is None or len(cache) > MAX_FEATURES:
        cache = kb.memo["search.features"] = {}
    f = cache.get(d.id)
    if f is None:
        title = frozenset(d.title_stems.split())
        name = title | frozenset(d.alias_stems.split())
        terms = name | frozenset(d.terms_stems.split())
        f = cache[d.id] = Features(
            title,
            name,
            terms,
            terms | frozenset(d.context_stems.split()),
            title - NEUTRAL - evidence.unsaid(d.title),
            evidence.doc_side(d.title),
            evidence.doc_encounter(d.system, d.code, d.title),
            evidence.contrast(d.short or d.title) if d.system in ("CPT", "HCPCS") else None,
            evidence.is_default(d.title, set(title)),
        )
    return f


MAX_FEATURES = 30_000


def standing(d: Doc, f: Features, asked: frozenset[str]) -> float:
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
    if any(t in SECONDARY and t not in asked for t in f.title):
        score -= 0.3
    if d.system == "ICD-10-CM" and d.code[0] in POPULATION and not asked & POPULATION_WORDS:
        score -= 0.6
    return score


def fit(d: Doc, f: Features, reading: evidence.Reading) -> float:
    """Evidence from the query's side, encounter and contrast against the code's title."""
    score = evidence.side_score(reading.side, f.side)
    score += evidence.encounter_score(reading.encounter, f.encounter)
    if reading.contrast is not None:
        score += evidence.contrast_score(reading.contrast, f.contrast)
    score += evidence.intent_score(reading.intent, evidence.doc_intent(d.system, d.code, d.title))
    return score


def _df(kb: KnowledgeBase) -> tuple[dict[str, int], int]:
    memo = kb.memo.get("search.df")
    if memo is None:
        counts = dict(kb.query("SELECT word, docs FROM search_words"))
        (total,) = kb.query("SELECT count(*) FROM search_docs")[0]
        memo = kb.memo["search.df"] = (counts, int(total))
    return memo


def _docs_with(kb: KnowledgeBase, group: Group) -> int:
    """About how many documents have a word group (its commonest alternative's count; 0 unknown)."""
    counts, _ = _df(kb)
    best = 0
    for alt in group.alternatives:
        ws = [w for w in words(alt) if w not in STOPWORDS] or words(alt)
        known = [counts[w] for w in ws if w in counts]
        if known and len(known) == len(ws):
            best = max(best, min(known))
    return best


def _weight(kb: KnowledgeBase, group: Group) -> float:
    """A word group's weight: rarer words say more."""
    n = _docs_with(kb, group)
    return math.log(1 + _df(kb)[1] / n) if n else UNKNOWN_WEIGHT


def _needs(kb: KnowledgeBase, groups: tuple[Group, ...]) -> tuple[Need, ...]:
    """Each group's weight and alternatives as the stems a code's text must hold to answer it."""
    counts, _ = _df(kb)
    out = []
    for g in groups:
        alts = []
        for alt, exp in zip(g.alternatives, (None, *g.expansions)):
            need = frozenset(stem(w) for w in words(alt) if w not in STOPWORDS) or frozenset(map(stem, words(alt)))
            weight = 1.0 if exp is None else KIND_WEIGHT.get(exp.kind, 1.0)
            if exp is not None and exp.kind == "spelling" and exp.typed in counts:
                weight = KNOWN_SPELLING  # the word is in the descriptors as typed ("shingles", not "singles")
            if need:
                alts.append((need, exp, weight))
        out.append((g, _weight(kb, g), tuple(alts)))
    return tuple(out)


def _coverage(f: Features, needs: tuple[Need, ...]) -> tuple[tuple[str, ...], tuple[Expansion, ...], float, float]:
    """Which groups the code's text answers (in its title, its other names, its inclusion terms or
    only its parents), how well (0-1, weighted by the groups' weights), and how much of its title
    the answer explains (0-1)."""
    matched, used, total, weights = [], [], 0.0, 0.0
    explained: set[str] = set()
    for g, gw, alts in needs:
        weights += gw
        weight, best = 0.0, None
        hit: frozenset[str] = frozenset()
        for need, exp, w in alts:
            if need <= f.name:
                pass
            elif need <= f.terms:
                w *= 0.85
            elif need <= f.every:
                w *= 0.5
            elif len(need) >= PARTIAL and len(need - f.name) == 1:
                w *= PARTIAL_WEIGHT * (len(need) - 1) / len(need)
                need = need & f.name
            elif len(need) >= PARTIAL and len(need - f.terms) == 1:
                w *= 0.85 * PARTIAL_WEIGHT * (len(need) - 1) / len(need)
                need = need & f.terms
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
    precision = len(f.shown & explained) / len(f.shown) if f.shown else 0.0
    return tuple(matched), tuple(used), total / weights if weights else 0.0, precision


CHILD_SQL = (
    "SELECT {cols} FROM search_docs d WHERE d.compact > ? AND d.compact < ? AND length(d.compact) = ? "
    "AND d.active = 1 AND {where} ORDER BY d.compact"
)
PROMOTE_TOP = 10


def promote(
    kb: KnowledgeBase, asked: Asked, ranked: list[Scored], where: str, params: list[Any], step: float | None = None
) -> list[Scored]:
    """An ICD-10-CM header found by its words brings the billable code under it that the words
    support (the query's side and encounter, else the unspecified or uncomplicated one), just
    ahead of it (``step`` above it; by default, where it would stand if it were billable): a
    header cannot be reported."""
    by_id = {s.doc.id: s for s in ranked}
    changed = False
    for s in ranked[:PROMOTE_TOP]:
        d = s.doc
        if d.system != "ICD-10-CM" or d.billable:
            continue
        child = _default_child(kb, d, asked, where, params)
        if child is None:
            continue
        score = s.score - NOT_BILLABLE - 0.05 if step is None else s.score + step
        mine = by_id.get(child.id)
        if mine is None:
            by_id[child.id] = Scored(child, score, s.matched, s.used, s.coverage, s.precision)
            changed = True
        elif mine.score < score:
            mine.score, mine.matched, mine.used = score, s.matched or mine.matched, s.used or mine.used
            changed = True
    if not changed:
        return ranked
    out = list(by_id.values())
    out.sort(key=lambda x: (-x.score, x.doc.id))
    return out


def _default_child(kb: KnowledgeBase, d: Doc, asked: Asked, where: str, params: list[Any]) -> Doc | None:
    """Down the tree from a header, one level at a time, to a billable code."""
    compact = d.code.replace(".", "")
    sql = CHILD_SQL.format(cols=DOC_COLUMNS, where=where)
    for _ in range(4):
        kids = [Doc(*r) for r in kb.query(sql, (compact, compact + "~", len(compact) + 1, *params))]
        if not kids and len(compact) < 7:  # 7th characters after a placeholder X (S72.90XA under S72.90)
            kids = [Doc(*r) for r in kb.query(sql, (compact, compact + "~", 7, *params))]
        if not kids:
            return None
        best = max(kids, key=lambda k: (_child_score(kb, k, asked), -k.id))
        if best.billable:
            return best
        compact = best.code.replace(".", "")
    return None


def _child_score(kb: KnowledgeBase, d: Doc, asked: Asked) -> float:
    f = features(kb, d)
    _, _, coverage, precision = _coverage(f, asked.needs)
    score = 2.0 * coverage + precision + (1.0 if f.default else 0.0) + fit(d, f, asked.reading)
    if OTHER in f.title:
        score -= 0.5
    return score


OTHER = stem("other")
