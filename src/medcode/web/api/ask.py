"""POST /api/ask: CasePilot, a coding question answered from the knowledge base with the rows it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.multipart import parse_options_header

from medcode.assistant import MAX_QUESTION
from medcode.assistant.llm import answer_question
from medcode.pricing import PricingError, UnknownLocality
from medcode.web.api.schemas import errors
from medcode.web.api.suggest import _invalid
from medcode.web.deps import DATE_PATTERN, BadInput, error, json, parse_date
from medcode.web.pages.upload import BadForm, TooLarge, read_body

router = APIRouter(prefix="/api", tags=["ask"])
MAX_BODY = 16 * 1024  # bytes of a body (a question of 2,000 characters, escaped, and the other fields)
CONVERSATION_PATTERN = "^[A-Za-z0-9_-]{8,64}$"
ZIP_PATTERN = "^[0-9]{5}(-?[0-9]{4})?$"


class AskBody(BaseModel):
    """A question, and optionally the conversation it follows, the date of service and a ZIP code."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question in plain words", min_length=1, max_length=MAX_QUESTION)
    conversation_id: str | None = Field(
        None,
        description="the conversation_id of an earlier answer: this question follows it ('and in Manhattan?'); "
        "default: a new conversation",
        pattern=CONVERSATION_PATTERN,
    )
    date: str | None = Field(
        None,
        description="date of service, YYYY-MM-DD; default: the date the question names, else the newest release",
        json_schema_extra={"format": "date", "pattern": DATE_PATTERN},
    )
    zip: str | None = Field(None, description="ZIP code for locality payment", pattern=ZIP_PATTERN)


@dataclass(frozen=True)
class CitationOut:
    family: str  # pprrvu, gpci, ncci_ptp, ncci_mue, ncci_aoc, icd10cm, icd10cm_guidelines ...
    release: str
    file: str
    row: str  # the row key: a code, a code pair, a locality, a guideline section and page
    link: str | None = None  # the code page section that shows the fact (/codes/20702#ncci)


@dataclass(frozen=True)
class AskAnswer:
    answer: str  # plain text
    citations: list[CitationOut]
    codes: list[str]  # every code the answer speaks of
    confidence: str  # high, medium or low
    followups: list[str]  # questions to ask next (in the same conversation)
    kind: str  # what the question was read as (payment, ptp, icd_billable ...)
    notices: list[str]
    conversation_id: str  # send it with the next question to follow this one


async def run_ask(request: Request, question: str, conversation_id: str | None, day: Any, zip_code: str | None) -> Any:
    """``answer_question`` in a worker thread (the model, when configured, is the app's ``llm`` setting)."""
    kb, llm_conf = request.app.state.kb, request.app.state.llm

    def run() -> Any:
        return answer_question(kb, question, conversation_id=conversation_id, day=day, zip_code=zip_code, conf=llm_conf)

    return await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))


def _body_schema() -> dict[str, Any]:
    example = {"question": "Does 20702 need modifier 51?", "conversation_id": None, "date": "2026-05-01"}
    schema = {**AskBody.model_json_schema(), "example": example}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/ask",
    openapi_extra=_body_schema(),
    response_model=AskAnswer,
    response_model_exclude_none=True,
    responses=errors(
        e413=f"a body over {MAX_BODY:,} bytes",
        e415="a content type other than application/json",
        e422="a body that is not the JSON above, an empty question or one over 2,000 characters, "
        "a bad conversation id, date or ZIP code",
    ),
)
async def ask_question(request: Request) -> Response:
    """A coding question answered from the knowledge base with the same functions as the code pages
    and the claim checker: the answer in plain words, the rows it came from (``citations``: family,
    release, file, row and the code page section), the codes it speaks of, a confidence and
    questions to ask next. Send the answer's ``conversation_id`` with a follow-up ("and in
    Manhattan?"); a conversation is kept in the server process for an hour."""
    kind = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if kind != "application/json":
        return error(
            415,
            "unsupported_media_type",
            f"Content-Type {kind or '(none)'!r} is not accepted; send application/json",
            field="content-type",
        )
    try:
        body = await read_body(request, MAX_BODY)
    except TooLarge as exc:
        return error(413, "too_large", f"the body is over the limit of {exc.limit:,} bytes", field="body")
    except BadForm as exc:
        return error(exc.status, "bad_input", str(exc), field="content-length")
    try:
        asked = AskBody.model_validate_json(body)
        question = " ".join(asked.question.split())
        if not question:
            raise BadInput("question", "question is empty: there is nothing to answer")
        day = parse_date(asked.date)
    except ValidationError as exc:
        return _invalid(exc)
    except BadInput as exc:
        return error(422, "bad_input", str(exc), field=exc.field)
    try:
        found = await run_ask(request, question, asked.conversation_id, day, asked.zip)
    except PricingError as exc:  # a ZIP code in no locality (UnknownLocality) or not a ZIP code
        kind = "unknown_locality" if isinstance(exc, UnknownLocality) else "bad_input"
        return error(422, kind, str(exc), field="zip")
    return json(found.as_json(), headers={"Cache-Control": "no-store"})
