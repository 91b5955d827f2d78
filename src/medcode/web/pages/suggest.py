"""The Case2Code page: paste a note, see the codes it supports with its words highlighted, accept or
drop each, and check the accepted codes as a claim with the claim checker.

Works without JavaScript: both forms post and the server renders the answer. The note is shown as
text (Jinja2 escapes it; the highlights are ``mark`` elements around escaped pieces), never as HTML,
and is never logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import anyio
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from python_multipart.multipart import parse_options_header

from medcode import casenote
from medcode.dates import iso_day
from medcode.web.pages import _check_form, jobs, pages
from medcode.web.pages.jobs import private
from medcode.web.pages.upload import BadForm, TooLarge, read_body

router = APIRouter(include_in_schema=False)
CLAIM_FORM_BYTES = 64 * 1024  # the "check as a claim" form: codes, a date and a setting
MAX_FIELDS = 200
MAX_DIAGNOSES = 12  # a claim's diagnoses (837P HI: 12)
MAX_POINTERS = 4  # diagnosis pointers of a line
PLACE_OF_SERVICE = {"office": "11", "facility": "22"}  # CMS POS: office; on-campus outpatient hospital
_ICD = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")
_PROCEDURE = re.compile(r"[0-9A-Z]{5}")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_ZIP = re.compile(r"[0-9]{5}(-?[0-9]{4})?")


class FormError(ValueError):
    def __init__(self, message: str, status: int = 422):
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Piece:
    """A stretch of the note: highlighted (``codes`` not empty) or not."""

    text: str
    codes: tuple[str, ...] = ()


def pieces(text: str, items: list[Any]) -> list[Piece]:
    """The note cut at the evidence of ``items``; each piece names the codes whose evidence covers it."""
    cover: list[tuple[int, int, str]] = []
    for item in items:
        for e in item.evidence:
            start, end = max(0, int(e.start)), min(len(text), int(e.end))
            if start < end:
                cover.append((start, end, item.code))
    cuts = sorted({0, len(text), *(s for s, _, _ in cover), *(e for _, e, _ in cover)})
    out: list[Piece] = []
    for a, b in zip(cuts, cuts[1:]):
        codes = tuple(dict.fromkeys(c for s, e, c in cover if s <= a and b <= e))
        if out and out[-1].codes == codes:
            out[-1] = Piece(out[-1].text + text[a:b], codes)
        else:
            out.append(Piece(text[a:b], codes))
    return out


async def _form(request: Request, cap: int) -> dict[str, list[str]]:
    kind = parse_options_header(request.headers.get("content-type", ""))[0]
    if kind != b"application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded (the page's form does)", 415)
    try:
        body = await read_body(request, cap)
    except TooLarge as exc:
        raise FormError(f"The form is larger than the limit of {exc.limit:,} bytes.", 413) from None
    except BadForm as exc:
        raise FormError(str(exc), exc.status) from None
    try:
        return parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(f"The form cannot be read ({type(exc).__name__}): the text is not UTF-8.") from None


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return iso_day(text)
    except ValueError:
        raise FormError(f"The date {text[:40]!r} is not a date (YYYY-MM-DD).") from None


def _setting(text: str) -> str | None:
    if text and text not in casenote.SETTINGS:
        raise FormError(f"The setting {text[:40]!r} is not one of {', '.join(casenote.SETTINGS)}.")
    return text or None


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("settings", casenote.SETTINGS)
    context.setdefault("limit_kb", request.app.state.note_limit // 1024)
    return pages(request).page(request, "suggest.html", status=status, cache=False, **context)


@router.get("/suggest")
async def suggest_form(request: Request) -> Response:
    return _page(request)


@router.post("/suggest")
async def suggest_submit(request: Request) -> Response:
    limit = request.app.state.note_limit
    text, date_text, setting_text = "", "", ""
    try:
        form = await _form(request, limit * 3 + 4096)  # %XX triples a byte at most
        raw = (form.get("text") or [""])[0].removeprefix("\ufeff")
        text = raw if len(raw) <= limit else ""
        date_text, setting_text = _one(form, "date")[:40], _one(form, "setting")[:40]
        text = casenote.check(raw, "The note", limit)
        day, setting = _day(date_text), _setting(setting_text)
    except (FormError, casenote.NoteError) as exc:
        status = exc.status if isinstance(exc, FormError) else 413 if exc.too_large else 422
        return _page(request, status, error=str(exc), text=text, date=date_text, setting=setting_text)
    kb, llm_conf = request.app.state.kb, request.app.state.llm
    include_all = _one(form, "all") == "1"

    def run() -> Any:
        return casenote.run(kb, text, day=day, setting=setting, include_all=include_all, llm_conf=llm_conf)

    found = await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))
    shown = [*found.diagnoses, *found.procedures, *found.candidates]
    return _page(
        request,
        found=found,
        pieces=pieces(text, shown),
        text=text,
        date=date_text,
        setting=setting_text,
        all=include_all,
    )


def claim_of(form: dict[str, list[str]]) -> dict[str, Any]:
    """The claim of the accepted codes: ``dx`` values are diagnoses (in order), ``px`` values are
    lines (``CODE`` or ``CODE MOD MOD``), ``date`` the date of service."""
    diagnoses = list(dict.fromkeys(v.strip().upper() for v in form.get("dx", []) if v.strip()))
    for code in diagnoses:
        if not _ICD.fullmatch(code):
            raise FormError(f"{code[:20]!r} is not an ICD-10-CM code.")
    lines = []
    for value in form.get("px", []):
        code, *modifiers = value.upper().split()
        if not _PROCEDURE.fullmatch(code) or not all(_MODIFIER.fullmatch(m) for m in modifiers) or len(modifiers) > 4:
            raise FormError(f"{value[:40]!r} is not a CPT or HCPCS code with up to four modifiers.")
        line: dict[str, Any] = {"code": code, "units": 1}
        if modifiers:
            line["modifiers"] = modifiers
        if diagnoses:
            line["pointers"] = list(range(1, min(len(diagnoses), MAX_DIAGNOSES, MAX_POINTERS) + 1))
        lines.append(line)
    if not lines:
        raise FormError("Accept at least one procedure code: a claim has at least one line.")
    claim: dict[str, Any] = {"id": "CASE2CODE"}
    day = _day(_one(form, "date"))
    if day is not None:
        claim["date"] = day.isoformat()
    claim["place_of_service"] = PLACE_OF_SERVICE[_setting(_one(form, "setting")) or "office"]
    zip_code = _one(form, "zip")
    if zip_code:
        if not _ZIP.fullmatch(zip_code):
            raise FormError(f"The ZIP code {zip_code[:20]!r} is not five digits (or ZIP+4).")
        claim["zip"] = zip_code
    claim["diagnoses"] = diagnoses[:MAX_DIAGNOSES]
    claim["lines"] = lines
    return claim


@router.post("/suggest/claim")
async def suggest_claim(request: Request) -> Response:
    """The accepted codes checked by the claim checker, answered with the claim checker's page."""
    text = ""
    try:
        form = await _form(request, CLAIM_FORM_BYTES)
        claim = claim_of(form)
        text = orjson.dumps(claim, option=orjson.OPT_INDENT_2).decode()
    except FormError as exc:
        return _check_form(request, exc.status, error=str(exc), text=text, fmt="json")
    store = jobs(request)
    job, folder = store.create()
    source = folder / "input.upload"
    try:
        with private(source) as fh:
            fh.write(text.encode())
    except BaseException:
        store.discard(job)
        raise
    await anyio.to_thread.run_sync(
        store.run_now, job, source, "json", "Case2Code codes", limiter=getattr(request.app.state, "check_slots", None)
    )
    status = store.status(job)
    if status["state"] == "failed":
        return _check_form(request, 422, error=status["error"], text=text, fmt="json")
    return _check_form(request, summary=status["summary"], claims=store.shown(job), job=job, text=text, fmt="json")
