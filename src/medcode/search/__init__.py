"""Ranked search over every code system: codes, prefixes, ranges, words, abbreviations, lay
terms and typos. ``search`` and ``autocomplete`` read the index that ingest builds
(``search/index.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from medcode.kb.models import SearchHit, SearchResults
from medcode.kb.store import KnowledgeBase
from medcode.language.words import STOPWORDS, words
from medcode.search import fuse
from medcode.search.docs import DOC_COLUMNS, Doc, fetch, hit
from medcode.search.query import parse

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


class SearchError(ValueError):
    """A search parameter that cannot be used (an unknown code system, a limit out of range)."""


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
    semantic: bool = True,
) -> SearchResults:
    """The codes that best answer ``query``: exact codes first, then by relevance, with why each
    matched. ``system``: cpt, hcpcs, icd10cm or modifier (comma-separated for several).
    ``semantic``: use the embedding cache when it is built (False: words only)."""
    _check(limit)
    systems = _systems(system)
    parsed = parse(kb, query)
    if parsed.modifier_hint and systems is None:
        systems = ("modifier",)
    where, params = _filters(systems, billable_only, day)
    hits: list[SearchHit] = []
    seen: set[int] = set()

    def add(docs: list[Doc], why: str) -> None:
        for d in docs:
            if d.id not in seen and len(hits) < limit:
                seen.add(d.id)
                hits.append(hit(d, why, 100.0 - len(hits), (), ()))

    if parsed.span:
        lo, hi = parsed.span
        add(
            fetch(
                kb,
                f"compact BETWEEN ? AND ? AND length(compact) >= ? AND {where}",
                [lo, hi + "~", min(len(lo), len(hi)), *params],
                "compact, system",
            ),
            "code range",
        )
    for code in parsed.codes:
        add(fetch(kb, f"compact = ? AND {where}", [code, *params], "system"), "exact code")
    for code in parsed.codes:
        if parsed.only_codes:
            add(
                fetch(
                    kb,
                    f"compact > ? AND compact < ? AND {where}",
                    [code, code + "~", *params],
                    "length(compact), compact, system",
                    limit,
                ),
                "code prefix",
            )
    if parsed.groups and len(hits) < limit and not (parsed.only_codes and hits):
        where, params = _filters(systems, False, day)  # headers are read for the billable codes under them
        hits.extend(
            fuse.hits(
                kb,
                parsed,
                where,
                params,
                systems,
                billable_only=billable_only,
                limit=limit - len(hits),
                seen=seen,
                semantic=semantic,
            )
        )
    notices: tuple[str, ...]
    if not parsed.text:
        notices = ("the query is empty: type a code, a range such as 20700-20704, or words",)
    else:
        notices = parsed.notices
    return SearchResults(parsed.text, tuple(hits), tuple(e for g in parsed.groups for e in g.expansions), notices)


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
    if not rows:  # no descriptor has these words: lay terms, abbreviations and typos, read by the concept
        # index's words (BM25 with spelling correction, under a millisecond; the full search takes ~10 ms)
        found_by = fuse.concepts(kb, parsed.text, systems, semantic=False)
        where, params = _filters(systems, False, None)
        docs = {d.code: d for d in fuse.docs_of(kb, list(found_by), where, params)}
        ordered = [docs[c] for c in found_by if c in docs][:limit]
        return [hit(d, "words", float(limit - i), tuple(toks), ()) for i, d in enumerate(ordered)]
    return [hit(Doc(*r), "prefix", float(limit - i), tuple(toks), ()) for i, r in enumerate(rows[:limit])]


MAX_AC_WORDS = 8


def _blocks(kb: KnowledgeBase) -> dict[str, tuple[int, int]]:
    """The block of document ids of each code system (ids are given system by system)."""
    blocks = kb.memo.get("search.blocks")
    if blocks is None:
        blocks = kb.memo["search.blocks"] = {
            s: (lo, hi) for s, lo, hi in kb.query("SELECT system, min(id), max(id) FROM search_docs GROUP BY system")
        }
    return blocks
