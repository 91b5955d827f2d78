"""POST /api/claims/check: one claim or many, as JSON or CSV."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode.claims import Checker, ClaimInputError, read_csv, read_json
from medcode.claims import report as reports
from medcode.claims.fhir import read_fhir
from medcode.claims.x12 import read_837
from medcode.web.deps import error

router = APIRouter(prefix="/api", tags=["claims"])
MAX_BODY = 20 * 1024 * 1024


def checker_of(request: Request) -> Checker:
    checker = getattr(request.app.state, "checker", None)
    if checker is None:
        checker = request.app.state.checker = Checker(request.app.state.kb)
    return checker


@router.post("/claims/check", responses={
    200: {"description": "the report: summary and claims with findings, priced lines and totals"},
    413: {"description": "body over 20 MB"}, 422: {"description": "a body that is not a claim file"}})
async def check_claims(request: Request) -> Response:
    """Check claims sent as JSON (one claim, a list, or ``{"claims": [...]}``; schema in
    docs/claims.md), CSV (``Content-Type: text/csv``), X12 837P (``application/edi-x12``) or FHIR
    R4 Claim resources (``application/fhir+json``). Runs every check and reprices."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is {len(body):,} bytes; the limit is {MAX_BODY:,}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error(422, "bad_input", f"body: byte {exc.start} is not UTF-8", field="body")
    kind = request.headers.get("content-type", "")
    checker = checker_of(request)

    def run() -> bytes:
        if "csv" in kind:
            claims = read_csv(text, "body")
        elif "x12" in kind or "edi" in kind:
            claims = read_837(text, "body")
        elif "fhir" in kind:
            claims = read_fhir(text, "body")
        else:
            claims = read_json(text, "body")
        return reports.to_json([checker.check(c) for c in claims])
    try:
        out = await asyncio.to_thread(run) if len(body) > 65536 else run()
    except ClaimInputError as exc:
        return error(422, "bad_input", str(exc), field=exc.where)
    return Response(out, media_type="application/json")
