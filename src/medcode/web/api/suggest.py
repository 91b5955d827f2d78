"""POST /api/suggest: Case2Code, the codes a clinical note supports, with the words that say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.multipart import parse_options_header

from medcode import casenote
from medcode.web.api.schemas import errors
from medcode.web.deps import DATE_PATTERN, BadInput, error, json, parse_date
from medcode.web.pages.upload import BadForm, TooLarge, read_body

router = APIRouter(prefix="/api", tags=["suggest"])
JSON_OVERHEAD = 64 * 1024  # bytes of a body beyond its note (the other fields, spaces)
JSON_ESCAPE = 6  # a character of the note may take six bytes in JSON (\u00e9)


class SuggestBody(BaseModel):
    """The note and where it was seen."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        description="the clinical note, plain text (UTF-8, at most MEDCODE_MAX_NOTE_KB kilobytes)", min_length=1
    )
    date: str | None = Field(
        None,
        description="date of service, YYYY-MM-DD; default: newest release",
        json_schema_extra={"format": "date", "pattern": DATE_PATTERN},
    )
    setting: Literal["office", "facility"] | None = Field(None, description="place of service; default office")
    all: bool = Field(False, description="also answer the candidates below the threshold (under `candidates`)")


@dataclass(frozen=True)
class EvidenceOut:
    start: int  # offset of the first character in the note (Python string index: code points)
    end: int
    text: str


@dataclass(frozen=True)
class SuggestedOut:
    code: str
    description: str
    confidence: float  # 0-1
    evidence: list[EvidenceOut]
    why: str
    modifiers: list[str] | None = None  # procedures: RT, LT, 50 ... where the note says so
    system: str | None = None


@dataclass(frozen=True)
class SuggestAnswer:
    diagnoses: list[SuggestedOut]  # reporting order: first-listed diagnosis first
    procedures: list[SuggestedOut]
    notices: list[str]
    candidates: list[SuggestedOut] | None = None  # below the threshold, when "all" is true


def _body_schema() -> dict[str, Any]:
    example = {"text": "Assessment: primary osteoarthritis, right knee.", "date": "2026-05-01", "setting": "office"}
    schema = {**SuggestBody.model_json_schema(), "example": example}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _invalid(exc: ValidationError) -> Response:
    first = exc.errors(include_url=False, include_input=False)[0]  # the value is never echoed: it may be the note
    where = ".".join(str(x) for x in first.get("loc", ())) or "body"
    return error(422, "bad_input", f"{where}: {first.get('msg', 'invalid')}", field=where)


async def note_body(request: Request) -> bytes | Response:
    """The JSON body of a request that carries a note (at most the note limit, escaped, plus the other
    fields), or the error answer: 415 for another content type, 413 over the limit."""
    kind = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if kind != "application/json":
        return error(
            415,
            "unsupported_media_type",
            f"Content-Type {kind or '(none)'!r} is not accepted; send application/json",
            field="content-type",
        )
    try:
        return await read_body(request, request.app.state.note_limit * JSON_ESCAPE + JSON_OVERHEAD)
    except TooLarge as exc:
        return error(413, "too_large", f"the body is over the limit of {exc.limit:,} bytes", field="body")
    except BadForm as exc:
        return error(exc.status, "bad_input", str(exc), field="content-length")


@router.post(
    "/suggest",
    openapi_extra=_body_schema(),
    response_model=SuggestAnswer,
    response_model_exclude_none=True,
    responses=errors(
        e413="a body or note over MEDCODE_MAX_NOTE_KB (refused before more is read)",
        e415="a content type other than application/json",
        e422="a body that is not the JSON above, an empty or binary note, a bad date or setting",
    ),
)
async def suggest_codes(request: Request) -> Response:
    """The codes a clinical note supports: ICD-10-CM diagnoses in reporting order (first-listed
    first) and CPT/HCPCS procedures with their modifiers, each with a confidence (0-1), the words of
    the note that support it (offsets into ``text``) and why; notices say what was assumed. Only
    codes that exist and are billable on the date; ``all`` adds the candidates below the threshold."""
    body = await note_body(request)
    if isinstance(body, Response):
        return body
    limit = request.app.state.note_limit
    try:
        asked = SuggestBody.model_validate_json(body)
        text = casenote.check(asked.text, "text", limit)
        day = parse_date(asked.date)
    except ValidationError as exc:
        return _invalid(exc)
    except casenote.NoteError as exc:
        status, kind = (413, "too_large") if exc.too_large else (422, "bad_input")
        return error(status, kind, str(exc), field="text")
    except BadInput as exc:
        return error(422, "bad_input", str(exc), field=exc.field)
    kb, llm_conf = request.app.state.kb, request.app.state.llm

    def run() -> dict[str, Any]:
        found = casenote.run(kb, text, day=day, setting=asked.setting, include_all=asked.all, llm_conf=llm_conf)
        out: dict[str, Any] = found.as_json()
        if asked.all:
            out.setdefault("candidates", [])
        return out

    out = await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))
    return json(out, headers={"Cache-Control": "no-store"})
