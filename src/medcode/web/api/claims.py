"""POST /api/claims/check: one claim or many, as JSON or CSV."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode.claims import Checker, ClaimInputError, read_csv, read_json
from medcode.claims import report as reports
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
    docs/claims.md) or as CSV (``Content-Type: text/csv``). Runs every check and reprices."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is {len(body):,} bytes; the limit is {MAX_BODY:,}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error(422, "bad_input", f"body: byte {exc.start} is not UTF-8", field="body")
    is_csv = "csv" in request.headers.get("content-type", "")
    checker = checker_of(request)

    def run() -> bytes:
        claims = read_csv(text, "body") if is_csv else read_json(text, "body")
        return reports.to_json([checker.check(c) for c in claims])
    try:
        out = await asyncio.to_thread(run) if len(body) > 65536 else run()
    except ClaimInputError as exc:
        return error(422, "bad_input", str(exc), field=exc.where)
    return Response(out, media_type="application/json")
