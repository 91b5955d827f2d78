"""The documentation audit page: paste (or dictate) a note, give the codes billed, and see for each code
whether the note supports it: each element met, with its words highlighted in the note, or missing,
negated or uncertain, with a query to the physician; the queries to copy; the E/M level.

Works without JavaScript: the form posts and the server renders the answer (``static/site.js`` adds the
Dictate and Copy queries buttons). The note is shown as text (Jinja2 escapes it; the highlights are
``mark`` elements around escaped pieces), never as HTML, and is never logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode import casenote
from medcode.audit import MAX_CODES, audit
from medcode.codes import MalformedCode, UnknownCode
from medcode.suggest.model import Evidence
from medcode.web.api.audit import MAX_CODE_CHARS
from medcode.web.pages import pages
from medcode.web.pages.suggest import FormError, _day, _form, _one, pieces

router = APIRouter(include_in_schema=False)
COLOURS = 8  # highlight colours (site.css .ev.c0-.c7), given to the elements with evidence in turn
STATUS_TEXT = {"present": "✓ met", "missing": "✗ missing", "negated": "✗ negated", "uncertain": "? uncertain"}
_SPLIT = re.compile(r"[,;\n]+")
_PREFILL = re.compile(r"[0-9A-Za-z][0-9A-Za-z -]{0,39}")  # ?code=20702 (anything else is not put in the form)


@dataclass(frozen=True)
class Marked:
    """One element's evidence, as ``pieces`` takes it (``code``: the element's key)."""

    code: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Legend:
    """An element with evidence in the note: its key, colour class and the text label its marks carry."""

    key: str
    colour: str
    element: str  # the element id (a class: el-<id>)
    status: str
    tag: str  # visible label: "20702 drug" (", negated" when not present)
    title: str  # "20702: Drug named (present)"


@dataclass(frozen=True)
class Shown:
    """A stretch of the note: plain, or marked with its elements (the first, the narrowest evidence, gives
    the colour) and the labels of the elements whose evidence ends there."""

    text: str
    keys: tuple[str, ...]
    tags: tuple[Legend, ...]


def billed(item: Any) -> str:
    return "-".join([item.code, *item.modifiers])


def legend(found: Any) -> dict[str, Legend]:
    """Every element with evidence, keyed ``<code index>-<element index>``, in order."""
    out: dict[str, Legend] = {}
    for ci, item in enumerate(found.codes):
        for ei, e in enumerate(item.elements):
            if not e.evidence:
                continue
            key = f"{ci}-{ei}"
            tag = f"{billed(item)} {e.id}" + ("" if e.status == "present" else f", {e.status}")
            out[key] = Legend(
                key, f"c{len(out) % COLOURS}", e.id, e.status, tag, f"{billed(item)}: {e.label} ({e.status})"
            )
    return out


def note_view(text: str, found: Any, marks: dict[str, Legend]) -> list[Shown]:
    """The note cut at every element's evidence (``pieces`` of Case2Code's page), each stretch with the
    elements covering it and the labels of those whose evidence ends at its end."""
    items = []
    for key in marks:
        ci, ei = (int(x) for x in key.split("-"))
        items.append(Marked(key, found.codes[ci].elements[ei].evidence))
    # the narrowest evidence first: where spans nest, a stretch takes the colour of its most specific element
    items.sort(key=lambda m: max(e.end - e.start for e in m.evidence))
    ends: dict[int, list[str]] = {}
    for item in items:
        for e in item.evidence:
            end = min(len(text), int(e.end))
            if max(0, int(e.start)) < end and item.code not in ends.setdefault(end, []):
                ends[end].append(item.code)
    out, at = [], 0
    for p in pieces(text, items):
        at += len(p.text)
        tags = tuple(marks[k] for k in ends.get(at, ()) if k in p.codes)
        out.append(Shown(p.text, p.codes, tags))
    return out


def queries_text(found: Any) -> str:
    """All the queries, one a line, for the physician (what the Copy queries button copies)."""
    lines = []
    for item in found.codes:
        for e in item.elements:
            if e.status != "present" and e.query:
                lines.append(f"{billed(item)}: {e.query}")
    return "\n".join(lines)


def codes_of(text: str) -> list[str]:
    """The codes of the form's field: separated by commas, semicolons or lines."""
    codes = [c.strip() for c in _SPLIT.split(text) if c.strip()]
    if not codes:
        raise FormError("Enter at least one code billed (for example 20702 or 20610-RT).")
    if len(codes) > MAX_CODES:
        raise FormError(f"{len(codes)} codes: an audit takes at most {MAX_CODES}.")
    for code in codes:
        if len(code) > MAX_CODE_CHARS:
            raise FormError(f"{code[:MAX_CODE_CHARS]!r}... is not a code with its modifiers.")
    return codes


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("limit_kb", request.app.state.note_limit // 1024)
    context.setdefault("status_text", STATUS_TEXT)
    return pages(request).page(request, "audit.html", status=status, cache=False, **context)


@router.get("/audit")
async def audit_form(request: Request) -> Response:
    asked = [c.strip() for c in request.query_params.getlist("code") if _PREFILL.fullmatch(c.strip())]
    return _page(request, codes=", ".join(asked[:MAX_CODES]))


@router.post("/audit")
async def audit_submit(request: Request) -> Response:
    limit = request.app.state.note_limit
    text, codes_text, date_text = "", "", ""
    try:
        form = await _form(request, limit * 3 + 4096)  # %XX triples a byte at most
        raw = (form.get("text") or [""])[0].removeprefix("\ufeff")
        text = raw if len(raw) <= limit else ""
        codes_text, date_text = _one(form, "codes")[:2000], _one(form, "date")[:40]
        text = casenote.check(raw, "The note", limit)
        day, codes = _day(date_text), codes_of(codes_text)
    except (FormError, casenote.NoteError) as exc:
        status = exc.status if isinstance(exc, FormError) else 413 if exc.too_large else 422
        return _page(request, status, error=str(exc), text=text, codes=codes_text, date=date_text)
    kb = request.app.state.kb

    def run() -> Any:
        return audit(kb, text, codes, day=day)

    try:
        found = await anyio.to_thread.run_sync(run, limiter=getattr(request.app.state, "check_slots", None))
    except (MalformedCode, UnknownCode, ValueError) as exc:
        message = str(exc)
        if isinstance(exc, UnknownCode):
            message = f"{exc.code} is not in the knowledge base" + (
                f" (nearest codes: {', '.join(exc.suggestions)})." if exc.suggestions else "."
            )
        return _page(request, 422, error=message, text=text, codes=codes_text, date=date_text)
    marks = legend(found)
    return _page(
        request,
        found=found,
        view=note_view(text, found, marks),
        marks=marks,
        queries=queries_text(found),
        text=text,
        codes=codes_text,
        date=date_text,
    )
