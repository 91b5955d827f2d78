"""Search documents as read from ``search_docs`` and as returned to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcode.kb.models import Expansion, SearchHit
from medcode.kb.store import KnowledgeBase

# Columns of a search document, read as table alias ``d`` in every query.
DOC_COLUMNS = (
    "d.id, d.system, d.code, d.title, d.plain, d.short, d.status, d.active, d.billable, d.title_stems, "
    "d.alias_stems, d.terms_stems, d.context_stems"
)


@dataclass
class Doc:
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


def fetch(kb: KnowledgeBase, where: str, params: list[Any], order: str, limit: int = 100) -> list[Doc]:
    return [
        Doc(*r)
        for r in kb.query(
            f"SELECT {DOC_COLUMNS} FROM search_docs d WHERE {where} ORDER BY {order} LIMIT {int(limit)}", tuple(params)
        )
    ]


def hit(d: Doc, why: str, score: float, matched: tuple[str, ...], used: tuple[Expansion, ...]) -> SearchHit:
    return SearchHit(
        d.code, d.system, d.title, d.plain, d.status, bool(d.active), bool(d.billable), score, why, matched, used
    )
