"""Word search over the clinical language layer: the full-text candidates joined with the concept
index's (BM25 over every official term, OR semantics; and, once its embedding cache is built, the
nearest terms by meaning), every candidate ranked by its words and coding-rule evidence
(``rank``), then the rankings fused by reciprocal rank:

    score = WORDS / (K + word rank) + LEXICAL / (K + concept lexical rank) + SEMANTIC / (K + semantic rank)

A ranking that does not hold a code adds nothing for it. A code of the kind (procedure or
diagnosis) the query's words do not ask for loses up to INTENT of its score (``intent``). An
ICD-10-CM header then brings its default billable code just ahead of it (``rank.promote``)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from medcode.kb.models import SearchHit
from medcode.kb.store import KnowledgeBase
from medcode.language.words import stems
from medcode.search import intent, rank
from medcode.search.docs import DOC_COLUMNS, Doc, hit
from medcode.search.query import Parsed

log = logging.getLogger(__name__)

K = 5
WORDS = 1.0
LEXICAL = 0.25
SEMANTIC = 0.8
FIT = 0.5  # share of the fused score that coding-rule evidence moves (per point of rank.fit)
FIT_FLOOR = 0.3
INTENT = 0.3  # share of the score a code loses when the query's words all but rule out its kind
CONCEPTS = 50  # candidates asked of the concept index
CONCEPT_SYSTEMS = ("CPT", "HCPCS", "ICD-10-CM")
ANSWERED = (
    0.999  # a best code whose name has every word of the query (and the query all of its title) needs no semantic step
)
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="medcode-semantic")
SIMILAR = 10  # a code this high in the semantic ranking was found by "similar meaning" too


@dataclass
class Concept:
    text: str
    lexical: int | None
    semantic: int | None


def concepts(kb: KnowledgeBase, text: str, systems: tuple[str, ...] | None, semantic: bool) -> dict[str, Concept]:
    """The concept index's candidates by code ({} when the layer is not available)."""
    wanted = CONCEPT_SYSTEMS if systems is None else tuple(s for s in systems if s in CONCEPT_SYSTEMS)
    if not wanted:
        return {}
    try:
        from medcode.language.index import concept_index
    except ImportError:  # pragma: no cover - the layer is part of medcode
        return {}
    found = concept_index(kb).lookup(text, CONCEPTS, None if wanted == CONCEPT_SYSTEMS else wanted, semantic)
    return {c.code: Concept(c.text, c.lexical, c.semantic) for c in found}


def words(
    kb: KnowledgeBase,
    parsed: Parsed,
    where: str,
    params: list[Any],
    systems: tuple[str, ...] | None,
    semantic: bool = True,
) -> list[tuple[rank.Scored, str]]:
    """Every candidate with its fused score, best first, and why it was found."""
    # The semantic step (encoding the query and scoring the cache, in onnxruntime without the GIL)
    # runs beside the word search on another core: the query waits for the slower of the two.
    ahead = _POOL.submit(concepts, kb, parsed.text, systems, True) if semantic and parsed.groups else None
    asked = rank.prepare(kb, parsed)
    found = rank.candidates(kb, asked, where, params)
    if semantic and found:  # the semantic step only when the words leave the answer open
        best = rank.rank(kb, asked, list(found.values()))[0]
        semantic = not (best.coverage >= ANSWERED and best.precision >= ANSWERED)
    if ahead is not None and semantic:
        by_code = ahead.result()
    else:
        by_code = concepts(kb, parsed.text, systems, False) if parsed.groups else {}
    if by_code:
        have = {d.code for d in found.values()}
        missing = [c for c in by_code if c not in have]
        for d in docs_of(kb, missing, where, params):
            found.setdefault(d.id, d)
    extra = {d.id: stems(by_code[d.code].text) for d in found.values() if d.code in by_code}
    ranked = rank.rank(kb, asked, list(found.values()), extra)
    odds = intent.procedure_odds(kb, parsed.groups)
    fused = []
    for place, s in enumerate(ranked, start=1):
        c = by_code.get(s.doc.code)
        score = WORDS / (K + place) if s.coverage > 0 or not c else 0.0
        similar = False
        if c is not None:
            if c.lexical is not None:
                score += LEXICAL / (K + c.lexical)
            if c.semantic is not None:
                score += SEMANTIC / (K + c.semantic)
                similar = c.semantic <= SIMILAR
        score *= 1.0 - INTENT * max(0.0, 0.5 - intent.fit(s.doc.system, odds)) * 2
        # the coding-rule evidence (side, encounter, contrast, a poisoning's intent) weighs on the fused
        # score too: the concept index's rankings know nothing of it
        score *= max(FIT_FLOOR, 1.0 + FIT * rank.fit(s.doc, rank.features(kb, s.doc), asked.reading))
        why = "words and similar meaning" if similar and s.matched else "similar meaning" if similar else "words"
        s.score = score
        fused.append((s, why))
    fused.sort(key=lambda x: (-x[0].score, x[0].doc.id))
    whys = {s.doc.id: why for s, why in fused}
    promoted = rank.promote(kb, asked, [s for s, _ in fused], where, params, step=PROMOTED)
    return [(s, whys.get(s.doc.id, "words")) for s in promoted]


PROMOTED = 1e-4  # a header's default code, just ahead of it


def docs_of(kb: KnowledgeBase, codes: list[str], where: str, params: list[Any]) -> list[Doc]:
    if not codes:
        return []
    marks = ",".join("?" * len(codes))
    where = f"d.compact IN ({marks}) AND d.system <> 'modifier' AND {where}"  # (compact is indexed)
    sql = f"SELECT {DOC_COLUMNS} FROM search_docs d WHERE {where}"
    wanted = set(codes)
    rows = kb.query(sql, (*(c.replace(".", "") for c in codes), *params))
    return [d for d in (Doc(*r) for r in rows) if d.code in wanted]


def hits(
    kb: KnowledgeBase,
    parsed: Parsed,
    where: str,
    params: list[Any],
    systems: tuple[str, ...] | None,
    *,
    billable_only: bool,
    limit: int,
    seen: set[int],
    semantic: bool = True,
) -> list[SearchHit]:
    out = []
    for s, why in words(kb, parsed, where, params, systems, semantic):
        d = s.doc
        if d.id in seen or (billable_only and not (d.billable and d.active)):
            continue
        out.append(hit(d, why, round(s.score, 4), s.matched, s.used))
        if len(out) == limit:
            break
    return out
