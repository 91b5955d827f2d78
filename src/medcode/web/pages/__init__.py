"""The web site: server-rendered HTML pages over the same core calls as the JSON API.

Pages work without JavaScript; ``static/site.js`` adds autocomplete, upload progress and live
job progress. A chosen locality is kept in the ``medcode_locality`` cookie for every page.
"""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from medcode import rules, vocab
from medcode.claims.files import FORMATS, detect_format, sniff_format
from medcode.claims.readers import ClaimInputError
from medcode.codes import MalformedCode, UnknownCode, normalize
from medcode.dates import iso_day
from medcode.guide import guide, modifier_rules
from medcode.kb.models import DiagnosisCode, Locality, ProcedureCode
from medcode.lookup import get_code, ptp_between, ptp_pairs, rvu_history
from medcode.pricing import PAYABLE_STATUSES, PricingError, find_locality, price_all_localities
from medcode.search import SearchError, search
from medcode.web.deps import KB, MAX_OFFSET, error, json
from medcode.web.pages import charts
from medcode.web.pages.jobs import REPORTS, Busy, Jobs, UnknownJob, private
from medcode.web.pages.render import Pages
from medcode.web.pages.upload import BadForm, TooLarge, read_check_form

router = APIRouter(include_in_schema=False)
COOKIE = "medcode_locality"
SYSTEMS = (("cpt", "CPT"), ("hcpcs", "HCPCS"), ("icd10cm", "ICD-10-CM"), ("modifier", "Modifiers"))
INDICATOR_NAMES = rules.INDICATOR_NAMES
NOTE_SECTIONS = (
    ("notes", "Notes", "Notes that apply to this code and the categories above it."),
    ("excludes1", "Excludes1", "Never code these together with this code: they cannot occur together."),
    ("excludes2", "Excludes2", "Not part of this condition; both may be coded when the patient has both."),
    ("code_first", "Code first", "Sequence the underlying condition first."),
    ("use_additional_code", "Use additional code", "Add a code for the associated condition."),
    ("code_also", "Code also", "A separate code may be needed; sequencing depends on the circumstances."),
)
FORM_FORMATS = (
    ("auto", "Tell from the text or file name"),
    ("json", "JSON"),
    ("csv", "CSV"),
    ("x12", "X12 837P"),
    ("fhir", "FHIR R4 Claim"),
)
EXAMPLE = (
    '{"id": "C1", "date": "2026-05-01", "place_of_service": "22", "zip": "10001",\n'
    ' "diagnoses": ["M86.161"], "lines": [{"code": "20702", "units": 1, "pointers": [1]}]}'
)
INLINE_BYTES = 512 * 1024  # larger inputs are checked in the background while the page shows progress
PASTE_BYTES = 2 * 1024 * 1024  # pasted text; larger claims are uploaded as a file


def href(system: str, code: str) -> str:
    """The page of a search hit: a modifier's page or a code page."""
    return f"/modifiers/{code}" if system == "modifier" else f"/codes/{code}"


def pages(request: Request) -> Pages:
    found: Pages = request.app.state.pages
    return found


def jobs(request: Request) -> Jobs:
    found: Jobs = request.app.state.jobs
    return found


def _day(text: str | None) -> tuple[date | None, str | None]:
    if not text:
        return None, None
    try:
        return iso_day(text), None
    except ValueError:
        return None, f"{text!r} is not a date (YYYY-MM-DD); the newest release is shown."


def _locality(
    kb: KB, request: Request, zip_code: str | None, locality: str | None, day: date | None
) -> tuple[Locality | None, str | None, str | None]:
    """(locality, cookie to set, error): from the form, or else from the cookie."""
    asked = bool(zip_code or locality)
    try:
        if zip_code:
            loc = find_locality(kb, zip_code=zip_code, day=day)[0]
        elif locality:
            loc = find_locality(kb, locality=locality, day=day)[0]
        elif request.cookies.get(COOKIE):
            loc = find_locality(kb, locality=request.cookies[COOKIE], day=day)[0]
        else:
            return None, None, None
    except (PricingError, LookupError) as exc:
        return None, None, str(exc) if asked else None
    return loc, loc.key if asked else None, None


def _cookie(key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    return {"Set-Cookie": f"{COOKIE}={key}; Path=/; Max-Age=31536000; SameSite=Lax"}


@router.get("/")
def home(request: Request, kb: KB) -> Response:
    site = pages(request)
    latest = [rs[-1] for _, rs in sorted(kb.releases.items()) if rs]
    return site.cached(
        request,
        "/",
        lambda: (site.html(request, "home.html", releases=latest, systems=SYSTEMS, chosen=()).encode(), {}),
    )


@router.get("/search")
def search_page(
    request: Request,
    kb: KB,
    q: Annotated[str, Query(max_length=500)] = "",
    system: Annotated[list[str] | None, Query()] = None,
) -> Response:
    site = pages(request)
    chosen = tuple(s for s in (system or []) if s)
    results, error = None, None
    if q.strip():
        try:
            results = search(kb, q, system=",".join(chosen) or None, limit=30)
        except SearchError as exc:
            error = str(exc)
        if results is not None and results.hits:
            top = results.hits[0]
            if top.why == "exact code" and normalize(q).replace(".", "") == top.code.replace(".", ""):
                return RedirectResponse(f"{href(top.system, top.code)}", status_code=303)
    canonical = "/search" + (f"?{urlencode({'q': q.strip()})}" if q.strip() else "")
    return site.page(
        request,
        "search.html",
        results=results,
        error=error,
        query=q,
        systems=SYSTEMS,
        chosen=chosen,
        canonical=canonical,
    )


@router.get("/modifiers/{modifier}")
def modifier_page(request: Request, kb: KB, modifier: str) -> Response:
    site = pages(request)
    wanted = modifier.strip().upper()
    if wanted != modifier:
        return RedirectResponse(f"/modifiers/{wanted}", status_code=301)
    hit = None
    if re.fullmatch(r"[A-Z0-9]{2}", wanted):
        try:
            hit = next((h for h in search(kb, wanted, system="modifier", limit=5).hits if h.code == wanted), None)
        except SearchError:
            hit = None
    if hit is None:
        return _not_found(request, kb, wanted, f"{wanted} is not a modifier in the releases loaded.", [])
    return site.cached(
        request,
        request.url.path,
        lambda: (site.html(request, "modifier.html", m=hit, rules=modifier_rules(wanted)).encode(), {}),
    )


def _not_found(request: Request, kb: KB, code: str, message: str, suggestions: list[str]) -> Response:
    site = pages(request)
    shown: list[dict[str, str]] = []
    for c in suggestions[:5]:
        try:
            found = get_code(kb, c)
            shown.append({"code": found.code, "description": found.description, "href": f"/codes/{found.code}"})
        except (UnknownCode, MalformedCode):
            continue
    if not shown:
        try:
            hits = search(kb, code, limit=5).hits
        except SearchError:
            hits = ()
        shown = [
            {"code": h.code, "description": h.plain_description or h.description, "href": href(h.system, h.code)}
            for h in hits
        ]
    return site.page(
        request,
        "not_found.html",
        status=404,
        code=code,
        message=message,
        suggestions=shown,
        systems=SYSTEMS,
        chosen=(),
        query=code,
    )


@router.get("/codes/{code}")
def code_page(
    request: Request,
    kb: KB,
    code: str,
    date: str | None = None,
    zip: str | None = None,
    locality: str | None = None,
    c1: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    c2: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    started = time.perf_counter()
    site = pages(request)
    day, date_error = _day(date)
    loc, set_cookie, loc_error = _locality(kb, request, zip, locality, day)
    key = f"{request.url.path}?{request.url.query}|{loc.key if loc else ''}"

    def render() -> tuple[bytes, dict[str, str]]:
        found = get_code(kb, code, day=day, locality=loc.key if loc else None)
        if found.code != code:
            raise _Redirect(f"/codes/{found.code}" + (f"?{request.url.query}" if request.url.query else ""))
        notices = [m for m in (date_error, loc_error) if m]
        if isinstance(found, DiagnosisCode):
            body = site.html(request, "diagnosis.html", d=found, note_sections=NOTE_SECTIONS, page_notices=notices)
        else:
            body = _procedure_html(request, kb, found, day, date, loc, notices, c1, c2)
        return body.encode(), _cookie(set_cookie)

    try:
        response = site.cached(request, key, render)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response
    except _Redirect as r:
        return RedirectResponse(r.location, status_code=301)
    except UnknownCode as exc:
        return _not_found(request, kb, exc.code, f"{exc.code} is not in the releases loaded.", exc.suggestions)
    except MalformedCode as exc:
        if re.fullmatch(r"[A-Za-z0-9]{2}", code):
            return RedirectResponse(f"/modifiers/{code.upper()}", status_code=301)
        return _not_found(request, kb, code, str(exc), [])


class _Redirect(Exception):
    def __init__(self, location: str):
        self.location = location


def _procedure_html(
    request: Request,
    kb: KB,
    p: ProcedureCode,
    day: date | None,
    date_param: str | None,
    loc: Locality | None,
    notices: list[str],
    c1: int,
    c2: int,
) -> str:
    site = pages(request)
    prices = []
    if p.rvu is not None and p.status is not None and p.status.code in PAYABLE_STATUSES:
        try:
            prices = price_all_localities(kb, p.code, day=day)
        except (PricingError, UnknownCode):
            prices = []
    localities = sorted((x.locality for x in prices), key=lambda x: (x.state, x.name))
    ptp_pages = []
    if p.ptp is not None:
        for direction, title, offset in (
            ("column_1", f"{p.code} in column 1: these codes are denied with it", c1),
            ("column_2", f"{p.code} in column 2: it is denied with these codes", c2),
        ):
            ptp_pages.append(
                (direction, title, ptp_pairs(kb, p.code, direction=direction, day=day, offset=offset, limit=25))
            )

    dme = []
    for f in (p.dmepos or {}).get("fees", []):
        fees = [v for pair in f["by_state"].values() for v in pair if v]
        dme.append(
            {
                **f,
                "low": min(fees) if fees else None,
                "high": max(fees) if fees else None,
                "states": sum(1 for pair in f["by_state"].values() if any(pair)),
            }
        )

    def pager(direction: str, offset: int) -> str:
        params = dict(request.query_params)
        params["c1" if direction == "column_1" else "c2"] = str(max(offset, 0))
        return f"/codes/{p.code}?{urlencode(params)}"

    return site.html(
        request,
        "procedure.html",
        p=p,
        g=guide(p),
        payable=PAYABLE_STATUSES,
        indicator_names=INDICATOR_NAMES,
        indicator_sources=rules.INDICATOR_SOURCES,
        share_names=rules.GLOBAL_SHARE_NAMES,
        pfs_releases=list(reversed(kb.releases.get("pprrvu", []))),
        date_value=str(day or p.date or ""),
        date_param=date_param if day else None,
        localities=localities,
        locality_key=loc.key if loc else None,
        locality_prices=prices,
        locality_chart=charts.locality_bars(
            prices, p.payment.nonfacility if p.payment else None, loc.key if loc else None
        ),
        history_chart=charts.rvu_history(rvu_history(kb, p.code)),
        ptp_pages=ptp_pages,
        pager=pager,
        dme=dme,
        page_notices=notices,
    )


@router.get("/compare")
def compare_page(request: Request, kb: KB, codes: str = "", date: str | None = None) -> Response:
    site = pages(request)
    day, _ = _day(date)
    wanted = list(dict.fromkeys(normalize(c) for c in re.split(r"[\s,]+", codes) if c.strip()))
    loc, _, _ = _locality(kb, request, None, None, day)
    found: list[ProcedureCode] = []
    missing: list[tuple[str, str]] = []
    error = None
    if wanted and not 2 <= len(wanted) <= 5:
        error = f"Give two to five codes; {len(wanted)} were given."
    elif wanted:
        for c in wanted:
            try:
                page = get_code(kb, c, day=day, locality=loc.key if loc else None)
            except (UnknownCode, MalformedCode) as exc:
                missing.append((c, str(exc)))
                continue
            except PricingError:
                page = get_code(kb, c, day=day)
            if isinstance(page, ProcedureCode):
                found.append(page)
            else:
                missing.append((c, "an ICD-10-CM code: compare CPT or HCPCS codes here"))
    family_name = next((vocab.family_of(p.code) for p in found if vocab.family_of(p.code)), None)
    family = None
    if family_name:
        members, rule = vocab.code_families()[family_name]
        family = {"codes": members, "rule": rule}
    sites = vocab.family_choices(family_name) if family_name else {}
    pairs = ptp_between(kb, [p.code for p in found], day=day)
    canonical = "/compare" + (f"?codes={','.join(wanted)}" if wanted else "")
    return site.page(
        request,
        "compare.html",
        codes=wanted,
        pages=found,
        missing=missing,
        error=error,
        family=family,
        sites=sites,
        pairs=pairs,
        ptp_missing=kb.resolve("ptp_practitioner", day) is None,
        locality=loc,
        canonical=canonical,
    )


# --- claim checker ---------------------------------------------------------------------------


def _check_form(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("fmt", "auto")
    context.setdefault("max_upload_mb", request.app.state.limits.max_upload >> 20)
    context.setdefault("keep", _minutes(jobs(request).keep_seconds))
    return pages(request).page(
        request, "check.html", status=status, cache=False, formats=FORM_FORMATS, example=EXAMPLE, **context
    )


@router.get("/check")
async def check_form(request: Request) -> Response:
    return _check_form(request)


@router.post("/check")
async def check_submit(request: Request) -> Response:
    """The form, read as a stream (``upload.read_check_form``): the file goes to the job's folder,
    the text and the body have caps, and a rejected submission leaves no folder behind."""
    store, limits = jobs(request), request.app.state.limits
    made: list[str] = []

    def place() -> Path:
        job, folder = store.create()
        made.append(job)
        return folder / "input.upload"

    def refuse(status: int, message: str, **context: Any) -> Response:
        for job in made:
            store.discard(job)
        return _check_form(request, status, error=message, **context)

    try:
        form = await read_check_form(request, max_file=limits.max_upload, max_text=PASTE_BYTES, place=place)
    except TooLarge as exc:
        what = {"the file": "The file", "the pasted text": "The pasted text"}.get(exc.what, "The form")
        hint = " Upload the claims as a file." if exc.what == "the pasted text" else ""
        return refuse(413, f"{what} is larger than the limit of {exc.limit / 2**20:,.0f} MB.{hint}")
    except BadForm as exc:
        return refuse(exc.status, f"The form cannot be read: {exc}.")
    except BaseException:
        for job in made:
            store.discard(job)
        raise
    text, fmt = form.text, form.fmt
    shown_text = text if len(text) <= INLINE_BYTES else ""
    if fmt not in ("auto", *FORMATS):
        return refuse(422, f"Unknown format {fmt[:20]!r}.", text=shown_text)
    if form.upload is not None:
        source, label, size = form.upload, form.filename, form.size
        if size == 0:
            return refuse(422, "The file is empty (0 bytes): there is nothing to check.")
        if fmt == "auto":
            try:
                fmt = detect_format(label)
            except ClaimInputError:
                with source.open("rb") as head:
                    fmt = sniff_format(head.read(4096).decode("utf-8", "replace"))
    elif text.strip():
        if fmt == "auto":
            fmt = sniff_format(text)
        source = place()
        with private(source) as fh:
            size = fh.write(text.encode("utf-8"))
        label = "pasted text"
    else:
        return refuse(422, "Paste a claim or choose a file to check.")
    job = made[0]
    if size > INLINE_BYTES:
        try:
            store.submit(job, source, fmt, label)
        except Busy:
            store.discard(job)
            return pages(request).page(
                request,
                "check.html",
                status=503,
                cache=False,
                formats=FORM_FORMATS,
                example=EXAMPLE,
                fmt=fmt,
                headers={"Retry-After": "60"},
                max_upload_mb=limits.max_upload >> 20,
                keep=_minutes(store.keep_seconds),
                error=f"The server is busy: {store.queue} checks are waiting. Try again in a few minutes.",
            )
        return RedirectResponse(f"/check/jobs/{job}", status_code=303)
    await anyio.to_thread.run_sync(
        store.run_now, job, source, fmt, label, limiter=getattr(request.app.state, "check_slots", None)
    )
    status = store.status(job)
    if status["state"] == "failed":
        return _check_form(request, 422, error=status["error"], text=shown_text, fmt=fmt)
    return _check_form(request, summary=status["summary"], claims=store.shown(job), job=job, text=shown_text, fmt=fmt)


@router.get("/check/jobs/{job}")
def job_page(request: Request, job: str) -> Response:
    store = jobs(request)
    try:
        status = store.status(job)
    except UnknownJob:
        return pages(request).page(
            request,
            "job.html",
            status=404,
            cache=False,
            job=job,
            state="failed",
            error="No such check: it may have expired (reports are kept for "
            f"{_minutes(store.keep_seconds)} after a check ends).",
        )
    claims = store.shown(job) if status["state"] == "done" else []
    expires = status.get("expires")
    return pages(request).page(
        request,
        "job.html",
        cache=False,
        job=job,
        state=status["state"],
        lines=status.get("lines", 0),
        total=status.get("total"),
        error=status.get("error"),
        summary=status.get("summary"),
        claims=claims,
        position=status.get("position"),
        label=status.get("label"),
        expires=time.strftime("%H:%M UTC", time.gmtime(expires)) if expires else None,
    )


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


@router.get("/check/jobs/{job}/status")
def job_status(request: Request, job: str) -> Response:
    try:
        status = jobs(request).status(job)
    except UnknownJob:
        return error(404, "not_found", "no such check")
    return json(status, headers={"Cache-Control": "no-store"})


@router.get("/check/jobs/{job}/report.{kind}")
def job_report(request: Request, job: str, kind: str) -> Response:
    try:
        path = jobs(request).report(job, kind)
    except UnknownJob:
        return Response("No such report: it may have expired.", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "no-store"}
    if kind == "html":  # a document of its own (inline style, no script): sandboxed, whatever it holds
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return FileResponse(path, media_type=REPORTS[kind][1], filename=f"medcode-check{REPORTS[kind][0]}", headers=headers)
