"""POST /api/claims/check: one claim or many, as JSON, CSV, X12 837P or FHIR."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from python_multipart.multipart import parse_options_header

from medcode.claims import Checker, ClaimInputError, read_text
from medcode.claims import report as reports
from medcode.web.api.schemas import errors
from medcode.web.deps import error
from medcode.web.pages.upload import BadForm, TooLarge, read_body

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["claims"])
# Content type -> claim format. Anything else (text/plain, a form, no type at all: what a page of
# another site can post without asking) is refused with 415.
CONTENT_TYPES = {
    "application/json": "json",
    "text/csv": "csv",
    "application/edi-x12": "x12",
    "application/x12": "x12",
    "application/fhir+json": "fhir",
}
CHECK_SLOTS = 2  # request bodies checked at a time (the app's lifespan makes the limiter)
_SCHEMA = Path(__file__).resolve().parents[2] / "claims" / "claim.schema.json"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/x"}`` replaced by its definition: inside the OpenAPI
    document such a reference would point at the document's root, where there is no ``$defs``."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _body_schema() -> dict[str, Any]:
    claim: dict[str, Any] = orjson.loads(_SCHEMA.read_bytes()) if _SCHEMA.exists() else {"type": "object"}
    defs = claim.get("$defs", {})
    claim = _inline({k: v for k, v in claim.items() if not k.startswith("$")}, defs)
    text = {"schema": {"type": "string"}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": 'one claim, a list of claims, or {"claims": [...]}; see docs/claims.md',
                        **claim,
                    }
                },
                "text/csv": text,
                "application/edi-x12": text,
                "application/x12": text,
                "application/fhir+json": {"schema": _FHIR_BODY},
            },
        }
    }


# A FHIR R4 Claim with its items, or a Bundle of such Claims: the structure the FHIR reader needs
# (docs/claims.md). Values inside (codes, sequences, dates) are not constrained here: the reader
# turns a bad one into a validity.bad_input finding that names its position, not a refusal.
_FHIR_ITEM = {"type": "object"}
_FHIR_CLAIM = {
    "type": "object",
    "required": ["resourceType", "item"],
    "properties": {"resourceType": {"const": "Claim"}, "item": {"type": "array", "minItems": 1, "items": _FHIR_ITEM}},
}
_FHIR_BODY = {
    "description": "a FHIR R4 Claim, or a Bundle of Claims",
    "oneOf": [
        _FHIR_CLAIM,
        {
            "type": "object",
            "required": ["resourceType", "entry"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "entry": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "required": ["resource"], "properties": {"resource": _FHIR_CLAIM}},
                },
            },
        },
    ],
}


@router.post(
    "/claims/check",
    openapi_extra=_body_schema(),
    responses={
        200: {
            "description": "the report: summary and claims with findings, priced lines and totals",
            "content": {"application/json": {"schema": {"type": "object", "required": ["summary", "claims"]}}},
        },
        **errors(
            e413="body over MEDCODE_MAX_BODY_MB (refused before more is read)",
            e415="a content type other than application/json, text/csv, application/edi-x12 or application/fhir+json",
            e422="a body that is not a claim file (the message names the position)",
        ),
    },
)
async def check_claims(request: Request) -> Response:
    """Check claims sent as JSON (one claim, a list, or ``{"claims": [...]}``; schema in
    docs/claims.md), CSV (``Content-Type: text/csv``), X12 837P (``application/edi-x12``) or FHIR
    R4 Claim resources (``application/fhir+json``). Runs every check and reprices. The check runs
    in a worker thread: the server answers other requests meanwhile."""
    kind = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    fmt = CONTENT_TYPES.get(kind)
    if fmt is None:
        return error(
            415,
            "unsupported_media_type",
            f"Content-Type {kind or '(none)'!r} is not accepted; send one of {', '.join(CONTENT_TYPES)}",
            field="content-type",
        )
    cap = request.app.state.limits.max_body
    try:
        body = await read_body(request, cap)
    except TooLarge as exc:
        return error(413, "too_large", f"the body is over the limit of {exc.limit:,} bytes", field="body")
    except BadForm as exc:
        return error(exc.status, "bad_input", str(exc), field="content-length")
    checker: Checker = request.app.state.checker

    def run() -> bytes | Response:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return error(422, "bad_input", f"body: byte {exc.start} is not UTF-8", field="body")
        try:
            claims = list(read_text(text, fmt, "body"))
        except ClaimInputError as exc:
            return error(422, "bad_input", str(exc), field=exc.where)
        except (ValueError, TypeError, LookupError, AttributeError, RecursionError) as exc:
            # a reader that should have said where: a 4xx for the sender, the trace for us
            log.exception("the %s reader failed on a request body", fmt)
            return error(422, "bad_input", f"body: cannot be read as {fmt} ({type(exc).__name__})", field="body")
        return reports.to_json([checker.check(c) for c in claims])

    out = await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))
    if isinstance(out, Response):
        return out
    return Response(out, media_type="application/json")
