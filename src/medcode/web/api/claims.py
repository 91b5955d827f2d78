"""POST /api/claims/check: one claim or many, as JSON or CSV."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode.claims import Checker, ClaimInputError, read_text
from medcode.claims import report as reports
from medcode.web.deps import error

router = APIRouter(prefix="/api", tags=["claims"])
MAX_BODY = 20 * 1024 * 1024
# Content type (a part of it) -> claim format; anything else is read as JSON.
CONTENT_TYPES = (("csv", "csv"), ("x12", "x12"), ("edi", "x12"), ("fhir", "fhir"))


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
    fmt = next((f for marker, f in CONTENT_TYPES if marker in kind), "json")
    checker: Checker = request.app.state.checker

    def run() -> bytes:
        return reports.to_json([checker.check(c) for c in read_text(text, fmt, "body")])
    try:
        out = await asyncio.to_thread(run) if len(body) > 65536 else run()
    except ClaimInputError as exc:
        return error(422, "bad_input", str(exc), field=exc.where)
    return Response(out, media_type="application/json")
