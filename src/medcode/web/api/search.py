"""GET /api/search and /api/autocomplete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from medcode.kb.models import SearchResults
from medcode.search import SearchError, autocomplete, search
from medcode.web.api.schemas import NOT_MODIFIED, Autocomplete, errors
from medcode.web.deps import KB, BadInput, Cache, DateParam, parse_date

router = APIRouter(prefix="/api", tags=["search"])
# 1,000 characters: a longer query, percent-encoded (up to 12 bytes a character), would pass the HTTP
# server's 16 KB request-line limit and be refused before the API (400, outside the schema)
QueryParam = Annotated[str, Query(description="a code, prefix, range (20700-20704) or words", max_length=1_000)]
_SYSTEM = "(cpt|hcpcs|icd10cm|modifier)"
SystemParam = Annotated[
    str | None,
    Query(
        description="cpt, hcpcs, icd10cm or modifier; comma-separated",
        json_schema_extra={"pattern": f"^{_SYSTEM}(,{_SYSTEM})*$"},
    ),
]


def _system(system: str | None) -> str | None:
    """An empty system= is refused like any other name that is not a code system."""
    if system is not None and not system.strip():
        raise BadInput("system", "system is empty: use cpt, hcpcs, icd10cm or modifier (or leave it out)")
    return system


@router.get(
    "/search",
    response_model=SearchResults,
    responses={**NOT_MODIFIED, **errors(e422="unknown code system, limit out of range, bad date, query too long")},
)
def search_codes(
    request: Request,
    kb: KB,
    cache: Cache,
    q: QueryParam = "",
    system: SystemParam = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    date: DateParam = None,
    billable: bool = False,
) -> Response:
    """Codes of every system ranked for the query: exact codes first, then relevance, each with
    why it matched (words, and the synonym, abbreviation or spelling used)."""

    def compute() -> SearchResults:
        try:
            return search(kb, q, system=_system(system), limit=limit, billable_only=billable, day=parse_date(date))
        except SearchError as exc:
            raise BadInput("system", str(exc)) from None

    return cache.answer(request, compute)


@router.get(
    "/autocomplete",
    response_model=Autocomplete,
    responses={**NOT_MODIFIED, **errors(e422="unknown code system, limit out of range, query too long")},
)
def autocomplete_codes(
    request: Request,
    kb: KB,
    cache: Cache,
    q: QueryParam = "",
    system: SystemParam = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> Response:
    """Up to ``limit`` codes for a half-typed query (a code prefix, or words with the last one a prefix)."""

    def compute() -> dict[str, object]:
        try:
            hits = autocomplete(kb, q, system=_system(system), limit=limit)
        except SearchError as exc:
            raise BadInput("system", str(exc)) from None
        return {"data": hits, "count": len(hits)}

    return cache.answer(request, compute)
