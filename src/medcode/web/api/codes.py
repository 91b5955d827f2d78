"""GET /api/codes/{code}: everything about one code."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from medcode.kb.models import DiagnosisCode, ProcedureCode, PtpPage
from medcode.lookup import get_code, ptp_pairs
from medcode.web.api.schemas import NOT_MODIFIED, errors
from medcode.web.deps import CODE_PATTERN, KB, MAX_OFFSET, Cache, DateParam, LocalityParam, ZipParam, parse_date

router = APIRouter(prefix="/api", tags=["codes"])
CodeParam = Annotated[
    str,
    Path(
        description="CPT, HCPCS or ICD-10-CM code (with or without the dot)",
        json_schema_extra={"pattern": CODE_PATTERN},
    ),
]
ProcedureParam = Annotated[
    str, Path(description="CPT or HCPCS code", json_schema_extra={"pattern": "^[0-9A-Za-z]{5}$"})
]


@router.get(
    "/codes/{code}",
    response_model=ProcedureCode | DiagnosisCode,
    responses={
        **NOT_MODIFIED,
        **errors(
            e404="unknown code (with the nearest existing codes) or unknown ZIP code or locality",
            e422="malformed code, ZIP, locality or date",
        ),
    },
)
def code_page(
    request: Request,
    kb: KB,
    cache: Cache,
    code: CodeParam,
    date: DateParam = None,
    zip: ZipParam = None,
    locality: LocalityParam = None,
) -> Response:
    """A CPT/HCPCS code (RVUs, payment, indicators, add-on, MUE, PTP, ...) or an ICD-10-CM code
    (hierarchy, notes, 7th characters), by the releases in force on the date of service."""
    return cache.answer(request, lambda: get_code(kb, code, day=parse_date(date), zip_code=zip, locality=locality))


@router.get(
    "/codes/{code}/ptp",
    response_model=PtpPage,
    responses={**NOT_MODIFIED, **errors(e404="unknown code", e422="malformed code, date, direction, offset or limit")},
)
def code_ptp(
    request: Request,
    kb: KB,
    cache: Cache,
    code: ProcedureParam,
    date: DateParam = None,
    direction: Literal["column_1", "column_2"] = "column_1",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The NCCI practitioner PTP edits in force on the date where the code is column 1 (it is
    the comprehensive code) or column 2 (it is the code denied), a page at a time, with the total."""
    return cache.answer(
        request, lambda: ptp_pairs(kb, code, direction=direction, day=parse_date(date), offset=offset, limit=limit)
    )
