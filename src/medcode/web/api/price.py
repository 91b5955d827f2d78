"""GET /api/price and /api/price/localities: Medicare payment by locality."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from medcode.kb.models import Price
from medcode.pricing import price, price_all_localities
from medcode.web.api.schemas import NOT_MODIFIED, LocalityPrices, errors
from medcode.web.deps import KB, Cache, DateParam, LocalityParam, ZipParam, parse_date

router = APIRouter(prefix="/api", tags=["pricing"])
CodeParam = Annotated[str, Query(description="CPT or HCPCS code", json_schema_extra={"pattern": "^[0-9A-Za-z]{5}$"})]
ModParam = Annotated[
    str,
    Query(
        description="modifier row of the fee schedule, e.g. 26 or TC",
        json_schema_extra={"pattern": "^([0-9A-Za-z]{2})?$"},
    ),
]


@router.get(
    "/price",
    response_model=Price,
    responses={
        **NOT_MODIFIED,
        **errors(
            e404="unknown code, ZIP code or locality",
            e422="missing or malformed code, ZIP, locality, date or modifier, or a code without a payment",
        ),
    },
)
def price_one(
    request: Request,
    kb: KB,
    cache: Cache,
    code: CodeParam,
    zip: ZipParam = None,
    locality: LocalityParam = None,
    date: DateParam = None,
    modifier: ModParam = "",
) -> Response:
    """Payment in one locality, found from a ZIP code or given as MAC-LOCALITY, with the GPCIs
    and the formula."""
    return cache.answer(
        request,
        lambda: price(
            kb, code, zip_code=zip, locality=locality, day=parse_date(date), modifier=modifier.strip().upper()
        ),
    )


@router.get(
    "/price/localities",
    response_model=LocalityPrices,
    responses={
        **NOT_MODIFIED,
        **errors(e404="unknown code", e422="missing or malformed code, date or modifier, or a code without a payment"),
    },
)
def price_every_locality(
    request: Request, kb: KB, cache: Cache, code: CodeParam, date: DateParam = None, modifier: ModParam = ""
) -> Response:
    """Payment in every locality of the GPCI file in force, highest non-facility amount first."""

    def compute() -> dict[str, object]:
        rows = price_all_localities(kb, code, day=parse_date(date), modifier=modifier.strip().upper())
        return {"data": rows, "count": len(rows)}

    return cache.answer(request, compute)
