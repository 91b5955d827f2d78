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
QueryParam = Annotated[str, Query(description="a code, prefix, range (20700-20704) or words", max_length=10_000)]
SystemParam = Annotated[str | None, Query(description="cpt, hcpcs, icd10cm or modifier; comma-separated")]


@router.get("/search", response_model=SearchResults,
            responses={**NOT_MODIFIED, **errors(e422="unknown code system, limit out of range, bad date, "
                                                      "query too long")})
def search_codes(request: Request, kb: KB, cache: Cache, q: QueryParam = "", system: SystemParam = None,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20, date: DateParam = None,
                       billable: bool = False) -> Response:
    """Codes of every system ranked for the query: exact codes first, then relevance, each with
    why it matched (words, and the synonym, abbreviation or spelling used)."""
    def compute() -> SearchResults:
        try:
            return search(kb, q, system=system, limit=limit, billable_only=billable, day=parse_date(date))
        except SearchError as exc:
            raise BadInput("system", str(exc)) from None
    return cache.answer(request, compute)


@router.get("/autocomplete", response_model=Autocomplete,
            responses={**NOT_MODIFIED, **errors(e422="unknown code system, limit out of range, query too long")})
def autocomplete_codes(request: Request, kb: KB, cache: Cache, q: QueryParam = "",
                       system: SystemParam = None,
                       limit: Annotated[int, Query(ge=1, le=20)] = 10) -> Response:
    """Up to ``limit`` codes for a half-typed query (a code prefix, or words with the last one a prefix)."""
    def compute() -> dict[str, object]:
        try:
            hits = autocomplete(kb, q, system=system, limit=limit)
        except SearchError as exc:
            raise BadInput("system", str(exc)) from None
        return {"data": hits, "count": len(hits)}
    return cache.answer(request, compute)
