"""POST /api/audit: the documentation audit, whether a note supports each code billed, element by element."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medcode import casenote
from medcode.audit import MAX_CODES, audit, parse_code
from medcode.codes import MalformedCode, UnknownCode
from medcode.web.api.schemas import errors
from medcode.web.api.suggest import EvidenceOut, _invalid, note_body
from medcode.web.deps import DATE_PATTERN, BadInput, error, json, parse_date

router = APIRouter(prefix="/api", tags=["audit"])
MAX_CODE_CHARS = 40  # a code with its modifiers ("20610-RT-59" ...)


class AuditBody(BaseModel):
    """The note and the codes billed for it."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        description="the clinical note, plain text (UTF-8, at most MEDCODE_MAX_NOTE_KB kilobytes)", min_length=1
    )
    codes: list[str] = Field(
        description='the codes billed, each with its modifiers if any: "20702", "20610-RT", "99214 25"',
        min_length=1,
        max_length=MAX_CODES,
    )
    date: str | None = Field(
        None,
        description="date of service, YYYY-MM-DD; default: newest release",
        json_schema_extra={"format": "date", "pattern": DATE_PATTERN},
    )


@dataclass(frozen=True)
class ElementOut:
    id: str  # the catalogue's element id: site, drug, problems, time ...
    label: str
    status: str  # present, missing, negated or uncertain
    evidence: list[EvidenceOut]  # the note's words (offsets into text)
    query: str | None  # a question to the physician, for every status but present
    required: bool  # required elements decide the verdict; the others are advice
    source: str  # where the requirement comes from (CMS manual chapter, NCCI policy manual, MLN, CPT wording, medcode)
    detail: str  # what the note says instead, when it says something that does not meet the element


@dataclass(frozen=True)
class LevelOut:
    mdm: str  # straightforward, low, moderate or high (two of the three elements)
    problems: str
    data: str
    risk: str
    time_minutes: int | None  # total minutes on the date of the encounter, when the note states them
    by_mdm: str | None  # the code medical decision making supports
    by_time: str | None  # the code the time supports
    supported_code: str | None  # the higher of the two


@dataclass(frozen=True)
class CodeAuditOut:
    code: str
    modifiers: list[str]
    description: str
    family: str | None  # the requirement catalogue's family; None: the generic requirements only
    supported: bool  # every required element present and the family's own check holds
    summary: str
    elements: list[ElementOut]
    suggested_code: str | None  # the code the note supports instead, when it is another one
    level: LevelOut | None = None  # office and outpatient E/M only


@dataclass(frozen=True)
class AuditAnswer:
    codes: list[CodeAuditOut]  # in the order billed
    notices: list[str]


def _body_schema() -> dict[str, Any]:
    example = {
        "text": "Procedure: antibiotic cement beads mixed by hand with vancomycin, placed in the medullary canal.",
        "codes": ["20702"],
        "date": "2026-05-01",
    }
    schema = {**AuditBody.model_json_schema(), "example": example}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _parsed(codes: list[str]) -> list[str]:
    """The codes billed without their modifiers; BadCode (``field``: ``codes.N``) for one that is not a code."""
    out = []
    for n, entry in enumerate(codes):
        if len(entry) > MAX_CODE_CHARS:
            raise BadInput(f"codes.{n}", f"codes.{n} is {len(entry)} characters: a code with its modifiers is shorter")
        try:
            out.append(parse_code(entry)[0])
        except MalformedCode as exc:
            raise BadCode(f"codes.{n}", exc) from None
    return out


class BadCode(ValueError):
    """A code billed that is not a code (answered with 422 malformed_code naming ``codes.N``)."""

    def __init__(self, field: str, exc: MalformedCode):
        self.field = field
        super().__init__(str(exc))


@router.post(
    "/audit",
    openapi_extra=_body_schema(),
    response_model=AuditAnswer,
    response_model_exclude_none=True,
    responses=errors(
        e413="a body or note over MEDCODE_MAX_NOTE_KB (refused before more is read)",
        e415="a content type other than application/json",
        e422="a body that is not the JSON above, an empty or binary note, a malformed or unknown code, "
        f"more than {MAX_CODES} codes, a bad date",
    ),
)
async def audit_note(request: Request) -> Response:
    """Whether a note supports each code billed: per code a verdict (``supported``) and a summary, each
    documentation element (drug, site, time, problems ...) present, missing, negated or uncertain with
    the note's words (offsets into ``text``), a plain-words query to the physician for every element
    that is not present, and for office E/M visits the level that medical decision making and time support."""
    body = await note_body(request)
    if isinstance(body, Response):
        return body
    limit = request.app.state.note_limit
    try:
        asked = AuditBody.model_validate_json(body)
        text = casenote.check(asked.text, "text", limit)
        day = parse_date(asked.date)
        parsed = _parsed(asked.codes)
    except ValidationError as exc:
        return _invalid(exc)
    except casenote.NoteError as exc:
        status, kind = (413, "too_large") if exc.too_large else (422, "bad_input")
        return error(status, kind, str(exc), field="text")
    except BadInput as exc:
        return error(422, "bad_input", str(exc), field=exc.field)
    except BadCode as exc:
        return error(422, "malformed_code", str(exc), field=exc.field)
    kb = request.app.state.kb

    def run() -> dict[str, Any]:
        out: dict[str, Any] = audit(kb, text, asked.codes, day=day).as_json()
        return out

    try:
        out = await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))
    except MalformedCode as exc:  # a code that is not a CPT or HCPCS code (an ICD-10-CM code ...)
        field = f"codes.{parsed.index(exc.code)}" if exc.code in parsed else "codes"
        return error(422, "malformed_code", str(exc), field=field)
    except UnknownCode as exc:
        field = f"codes.{parsed.index(exc.code)}" if exc.code in parsed else "codes"
        return error(422, "not_found", str(exc), field=field, code=exc.code, suggestions=exc.suggestions)
    except ValueError as exc:  # what the core refuses besides (codes it cannot read together ...)
        return error(422, "bad_input", str(exc), field="codes")
    return json(out, headers={"Cache-Control": "no-store"})
