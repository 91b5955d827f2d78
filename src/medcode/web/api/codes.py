"""GET /api/codes/{code}: everything about one code."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from medcode.kb.models import DiagnosisCode, ProcedureCode
from medcode.lookup import get_code
from medcode.web.deps import KB, DateParam, LocalityParam, ZipParam, json, parse_date

router = APIRouter(prefix="/api", tags=["codes"])


@router.get("/codes/{code}", response_model=ProcedureCode | DiagnosisCode,
            responses={404: {"description": "unknown code, with the nearest existing codes"},
                       422: {"description": "malformed code, ZIP, locality or date"}})
async def code_page(kb: KB, code: str, date: DateParam = None, zip: ZipParam = None,
                    locality: LocalityParam = None) -> Response:
    """A CPT/HCPCS code (RVUs, payment, indicators, add-on, MUE, PTP, ...) or an ICD-10-CM code
    (hierarchy, notes, 7th characters), by the releases in force on the date of service."""
    return json(get_code(kb, code, day=parse_date(date), zip_code=zip, locality=locality))
