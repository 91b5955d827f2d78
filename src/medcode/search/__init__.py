"""Ranked search over every code system: codes, prefixes, ranges, words, abbreviations, lay
terms and typos. ``search`` and ``autocomplete`` read the index that ingest builds
(``search/index.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from medcode.kb.models import Expansion, SearchHit, SearchResults
from medcode.kb.store import KnowledgeBase
from medcode.search.query import Group, Parsed, parse
from medcode.search.text import STOPWORDS, stem, words

__all__ = ["search", "autocomplete", "SYSTEMS", "SearchError"]

SYSTEMS = {
    "cpt": "CPT",
    "hcpcs": "HCPCS",
    "icd10cm": "ICD-10-CM",
    "icd-10-cm": "ICD-10-CM",
    "icd": "ICD-10-CM",
    "modifier": "modifier",
    "modifiers": "modifier",
}
# Columns of a search document, read as table alias ``d`` in every query.
DOC_COLUMNS = (
    "d.id, d.system, d.code, d.title, d.plain, d.short, d.status, d.active, d.billable, d.title_stems, "
    "d.alias_stems, d.terms_stems, d.context_stems"
)
CANDIDATES = 200


class SearchError(ValueError):
    """A search parameter that cannot be used (an unknown code system, a limit out of range)."""


@dataclass
class _Doc:
    id: int
    system: str
    code: str
    title: str
    plain: str | None
    short: str | None
    status: str | None
    active: int
    billable: int
    title_stems: str
    alias_stems: str
    terms_stems: str
    context_stems: str
    bm25: float = 0.0


def _systems(system: str | None) -> tuple[str, ...] | None:
    if not system:
        return None
    out = []
    for s in system.split(","):
        key = s.strip().lower()
        if key not in SYSTEMS:
            raise SearchError(f"unknown code system {s!r}: use cpt, hcpcs, icd10cm or modifier")
        out.append(SYSTEMS[key])
    return tuple(dict.fromkeys(out))


def _filters(
    systems: tuple[str, ...] | None, billable_only: bool, day: date | None, alias: str = "d."
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if systems:
        where.append(f"{alias}system IN ({','.join('?' * len(systems))})")
        params.extend(systems)
    if billable_only:
        where.append(f"{alias}billable = 1 AND {alias}active = 1")
    if day is not None:
        where.append(f"{alias}valid_from <= ? AND {alias}valid_to >= ?")
        params.extend([day.isoformat(), day.isoformat()])
    return (" AND ".join(where) or "1"), params


def _check(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise SearchError("limit must be between 1 and 100")


def search(
    kb: KnowledgeBase,
    query: str,
    *,
    system: str | None = None,
    limit: int = 20,
    billable_only: bool = False,
    day: date | None = None,
) -> SearchResults:
    """The codes that best answer ``query``: exact codes first, then by relevance, with why each
    matched. ``system``: cpt, hcpcs, icd10cm or modifier (comma-separated for several)."""
    _check(limit)
    systems = _systems(system)
    parsed = parse(kb, query)
    if parsed.modifier_hint and systems is None:
        systems = ("modifier",)
    where, params = _filters(systems, billable_only, day)
    hits: list[SearchHit] = []
    seen: set[int] = set()

    def add(docs: list[_Doc], why: str) -> None:
        for d in docs:
            if d.id not in seen and len(hits) < limit:
                seen.add(d.id)
                hits.append(_hit(d, why, 100.0 - len(hits), (), ()))

    if parsed.span:
        lo, hi = parsed.span
        add(
            _docs(
                kb,
                f"compact BETWEEN ? AND ? AND length(compact) >= ? AND {where}",
                [lo, hi + "~", min(len(lo), len(hi)), *params],
                "compact, system",
            ),
            "code range",
        )
    for code in parsed.codes:
        add(_docs(kb, f"compact = ? AND {where}", [code, *params], "system"), "exact code")
    for code in parsed.codes:
        if parsed.only_codes:
            add(
                _docs(
                    kb,
                    f"compact > ? AND compact < ? AND {where}",
                    [code, code + "~", *params],
                    "length(compact), compact, system",
                    limit,
                ),
                "code prefix",
            )
    if parsed.groups and len(hits) < limit and not (parsed.only_codes and hits):
        hits.extend(_words(kb, parsed, where, params, limit - len(hits), seen))
    notices: tuple[str, ...]
    if not parsed.text:
        notices = ("the query is empty: type a code, a range such as 20700-20704, or words",)
    else:
        notices = parsed.notices
    return SearchResults(parsed.text, tuple(hits), tuple(e for g in parsed.groups for e in g.expansions), notices)


def _docs(kb: KnowledgeBase, where: str, params: list[Any], order: str, limit: int = 100) -> list[_Doc]:
    return [
        _Doc(*r)
        for r in kb.query(
            f"SELECT {DOC_COLUMNS} FROM search_docs d WHERE {where} ORDER BY {order} LIMIT {int(limit)}", tuple(params)
        )
    ]


def _quote(phrase: str) -> str:
    """An alternative as an FTS5 expression: every word of it, quoted, joined by AND."""
    kept = [w for w in words(phrase) if w not in STOPWORDS] or words(phrase)
    return "(" + " AND ".join(f'"{w}"' for w in kept) + ")" if kept else ""


def _expr(group: Group) -> str:
    parts = [q for q in (_quote(a) for a in group.alternatives) if q]
    return "(" + " OR ".join(parts) + ")" if parts else ""


MATCH_SQL = (
    "SELECT {cols}, f.score FROM (SELECT rowid, bm25(search_fts, 1.0, 0.5, 0.25) AS score FROM search_fts "
    "WHERE search_fts MATCH ? ORDER BY score LIMIT ?) f JOIN search_docs d ON d.id = f.rowid WHERE {where}"
)
MATCH_FILTERED_SQL = (
    "SELECT {cols}, bm25(search_fts, 1.0, 0.5, 0.25) AS score FROM search_fts JOIN search_docs d "
    "ON d.id = search_fts.rowid WHERE search_fts MATCH ? AND {where} ORDER BY score LIMIT ?"
)


def _match(kb: KnowledgeBase, expr: str, where: str, params: list[Any]) -> list[_Doc]:
    sql = (MATCH_SQL if where == "1" else MATCH_FILTERED_SQL).format(cols=DOC_COLUMNS, where=where)
    args = (expr, CANDIDATES) if where == "1" else (expr, *params, CANDIDATES)
    out = []
    for r in kb.query(sql, args):
        d = _Doc(*r[:-1])
        d.bm25 = -r[-1]
        out.append(d)
    return out


def _words(
    kb: KnowledgeBase, parsed: Parsed, where: str, params: list[Any], limit: int, seen: set[int]
) -> list[SearchHit]:
    exprs = [e for e in (_expr(g) for g in parsed.groups) if e]
    if not exprs:
        return []
    found = {d.id: d for d in _match(kb, " AND ".join(exprs), where, params)}
    if len(found) < limit and len(exprs) > 1:
        # Relax: every group but one, then (for long queries) any group at all.
        relaxed = (
            [" AND ".join(exprs[:i] + exprs[i + 1 :]) for i in range(len(exprs))]
            if len(exprs) <= 5
            else [" OR ".join(exprs)]
        )
        for expr in relaxed:
            for d in _match(kb, expr, where, params):
                found.setdefault(d.id, d)
        if not found and len(exprs) <= 5:
            for d in _match(kb, " OR ".join(exprs), where, params):
                found.setdefault(d.id, d)
    docs = [d for d in found.values() if d.id not in seen]
    if not docs:
        return []
    top = max(d.bm25 for d in docs) or 1.0
    needs = _needs(parsed.groups)
    asked = {st for _, alts in needs for need, _ in alts for st in need}
    ranked = []
    for d in docs:
        matched, used, coverage, precision = _coverage(d, needs)
        score = 4.0 * coverage + 1.0 * precision + 0.5 * d.bm25 / top + _standing(d, asked)
        if parsed.modifier_hint and d.system == "modifier":
            score += 2.0
        ranked.append((score, d, matched, used))
    ranked.sort(key=lambda x: (-x[0], x[1].id))
    return [_hit(d, "words", round(s, 3), m, u) for s, d, m, u in ranked[:limit]]


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
    stem(w) for w in ("unspecified", "other", "initial", "encounter", "nos", "procedure", "with", "without", *STOPWORDS)
)


def _standing(d: _Doc, asked: set[str]) -> float:
    """Active, billable, payable codes ahead of deleted ones, headers and quality measures."""
    score = STATUS_WEIGHT.get(d.status or "", 0.0)
    if not d.active:
        score -= 1.5
    if not d.billable:
        score -= 0.8
    elif d.system == "ICD-10-CM" and len(d.code.replace(".", "")) < 5:
        score += 0.1 * (5 - len(d.code.replace(".", "")))  # a complete 3- or 4-character code
    if d.system == "modifier":
        score -= 0.2
    if d.system == "ICD-10-CM" and len(d.code) == 8 and d.code[-1] != "A":
        score -= 0.1 if d.code[-1] in "BC" else 0.3  # 7th characters after the initial encounter
    title = d.title_stems.split()
    if any(t in SECONDARY and t not in asked for t in title):
        score -= 0.3
    return score


Need = tuple[Group, tuple[tuple[frozenset[str], Expansion | None], ...]]


def _needs(groups: tuple[Group, ...]) -> tuple[Need, ...]:
    """Each group's alternatives as the stems a code's text must hold to answer it."""
    out = []
    for g in groups:
        alts = []
        for alt, exp in zip(g.alternatives, (None, *g.expansions)):
            need = frozenset(stem(w) for w in words(alt) if w not in STOPWORDS) or frozenset(map(stem, words(alt)))
            if need:
                alts.append((need, exp))
        out.append((g, tuple(alts)))
    return tuple(out)


def _coverage(d: _Doc, needs: tuple[Need, ...]) -> tuple[tuple[str, ...], tuple[Expansion, ...], float, float]:
    """Which groups the code's text answers (in its title, its other names, its inclusion terms or
    only its parents), how well (0-1), and how much of its title the answer explains (0-1)."""
    title = set(d.title_stems.split())
    name = title | set(d.alias_stems.split())
    terms = name | set(d.terms_stems.split())
    every = terms | set(d.context_stems.split())
    matched, used, total = [], [], 0.0
    explained: set[str] = set()
    for g, alts in needs:
        weight, best = 0.0, None
        hit: frozenset[str] = frozenset()
        for need, exp in alts:
            if need <= name:
                w = 1.0 if exp is None or exp.kind != "spelling" else 0.9
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
            total += weight
            explained |= hit
    shown = title - NEUTRAL
    precision = len(shown & explained) / len(shown) if shown else 0.0
    return tuple(matched), tuple(used), total / len(needs), precision


def _hit(d: _Doc, why: str, score: float, matched: tuple[str, ...], used: tuple[Expansion, ...]) -> SearchHit:
    return SearchHit(
        d.code, d.system, d.title, d.plain, d.status, bool(d.active), bool(d.billable), score, why, matched, used
    )


AC_SQL = (
    "SELECT {cols} FROM (SELECT rowid FROM search_ac WHERE search_ac MATCH ? AND rowid BETWEEN ? AND ? "
    "ORDER BY rowid LIMIT ?) a JOIN search_docs d ON d.id = a.rowid ORDER BY d.id"
)
AC_SHARES = (("CPT", "HCPCS"), ("ICD-10-CM",), ("modifier",))


def autocomplete(kb: KnowledgeBase, query: str, *, system: str | None = None, limit: int = 10) -> list[SearchHit]:
    """Codes for a half-typed query: a code prefix, or words with the last one a prefix (when no
    descriptor has them, the full ``search``, with lay terms and typos). Matches come in code
    order, active and payable codes first, procedures and diagnoses sharing the list when both
    match."""
    _check(limit)
    systems = _systems(system)
    parsed = parse(kb, query)
    if parsed.span or parsed.only_codes:
        return list(search(kb, query, system=system, limit=limit).hits)
    toks = [w for w in words(parsed.text) if w not in STOPWORDS] or words(parsed.text)
    toks = toks[:MAX_AC_WORDS]
    if not toks:
        return []
    expr = " AND ".join([*(f'"{w}"' for w in toks[:-1]), f'"{toks[-1]}"*'])
    shares = [tuple(x for x in share if not systems or x in systems) for share in AC_SHARES]
    blocks = _blocks(kb)
    found: list[list[Any]] = []
    for share in shares:
        ids = [i for s in share if s in blocks for i in blocks[s]]
        found.append(kb.query(AC_SQL.format(cols=DOC_COLUMNS), (expr, min(ids), max(ids), limit)) if ids else [])
    rows: list[Any] = []
    while len(rows) < limit and any(found):  # take turns: two procedures, two diagnoses, a modifier
        for bucket, take in zip(found, (2, 2, 1)):
            rows.extend(bucket[:take])
            del bucket[:take]
    if not rows:  # no descriptor has these words: lay terms, abbreviations and typos, as search reads them
        return list(search(kb, query, system=system, limit=limit).hits)
    return [_hit(_Doc(*r), "prefix", float(limit - i), tuple(toks), ()) for i, r in enumerate(rows[:limit])]


MAX_AC_WORDS = 8


def _blocks(kb: KnowledgeBase) -> dict[str, tuple[int, int]]:
    """The block of document ids of each code system (ids are given system by system)."""
    blocks = kb.memo.get("search.blocks")
    if blocks is None:
        blocks = kb.memo["search.blocks"] = {
            s: (lo, hi) for s, lo, hi in kb.query("SELECT system, min(id), max(id) FROM search_docs GROUP BY system")
        }
    return blocks
