"""Job board pages (CareerCenter; no JavaScript needed): search open jobs, a job with its apply form, post a
job (employers), an employer's jobs and applicants, the applicant's applications, resumes (the job's
employer and the applicant only), admin moderation, and Atom, RSS and JSON feeds of open jobs.

Forms carry the session's CSRF token in a ``csrf`` field. (``pages/jobs.py`` is the claim checker's
background jobs, not this.)
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from medcode.app import job_apply, jobs
from medcode.app.models_jobs import SETTINGS, STATES, WORK_MODES
from medcode.web.api import jobboard as api
from medcode.web.api.account import base_url
from medcode.web.api.jobboard_form import read_application
from medcode.web.auth import Auth, check_csrf, policy_of
from medcode.web.pages import jobboard_feeds as feeds
from medcode.web.pages.render import Pages
from medcode.web.pages.upload import BadForm, TooLarge, read_body

router = APIRouter(include_in_schema=False)
FORM_BYTES = 64 * 1024


def _pages(request: Request) -> Pages:
    found: Pages = request.app.state.pages
    return found


def _who(request: Request) -> Auth:
    try:
        return api.requester(request)
    except api.Refused:
        return Auth()


def _message(request: Request, heading: str, message: str, status: int = 200) -> Response:
    return _pages(request).page(
        request, "account_message.html", status=status, cache=False, heading=heading, message=message, failed=True
    )


def _login() -> Response:
    return RedirectResponse("/account/login", status_code=303)


async def _form(request: Request) -> dict[str, str] | None:
    try:
        body = await read_body(request, FORM_BYTES)
    except (TooLarge, BadForm):
        return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _int(raw: str | None, field: str) -> int | None:
    raw = (raw or "").replace(",", "").replace("$", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise jobs.JobError(field, f"{field.replace('_', ' ')} is a whole number of dollars")
    return int(raw)


async def _thread(work: Any) -> Response:
    out: Response = await anyio.to_thread.run_sync(work)
    return out


# --- search ---------------------------------------------------------------------------------------------------


@router.get("/jobs")
async def search_page(
    request: Request,
    q: str = "",
    credential: str = "",
    remote: str = "",
    specialty: str = "",
    pay_min: str = "",
    page: int = 1,
) -> Response:
    def work() -> Response:
        auth = _who(request)
        problem = ""
        cred = credential.strip().upper()
        if cred and cred not in jobs.CREDENTIALS:
            problem, cred = f"Unknown credential {cred[:20]!r}.", ""
        try:
            pay = _int(pay_min, "pay_min")
        except jobs.JobError as exc:
            problem, pay = exc.message, None
        filters = jobs.Filters(q[:200], cred, "remote" if remote else "", specialty[:100], pay)
        number = min(max(page, 1), 500)
        total, found = jobs.search(policy_of(request).engine, filters, (number - 1) * jobs.PAGE, jobs.PAGE)
        args = {
            k: v
            for k, v in dict(q=q, credential=cred, remote=remote, specialty=specialty, pay_min=pay_min).items()
            if v
        }
        pages = max(1, math.ceil(total / jobs.PAGE))
        return _pages(request).page(
            request,
            "jobboard_search.html",
            status=422 if problem else 200,
            cache=False,
            user=auth.user,
            q=q,
            credential=cred,
            remote=bool(remote),
            specialty=specialty,
            pay_min=pay_min,
            credentials=jobs.CREDENTIALS,
            total=total,
            found=found,
            problem=problem,
            page_number=number,
            pages=pages,
            prev_link=f"/jobs?{urlencode({**args, 'page': number - 1})}" if number > 1 else "",
            next_link=f"/jobs?{urlencode({**args, 'page': number + 1})}" if number < pages else "",
        )

    return await _thread(work)


# --- posting --------------------------------------------------------------------------------------------------


def _new_form(request: Request, auth: Auth, values: dict[str, str], error: str = "", status: int = 200) -> Response:
    return _pages(request).page(
        request,
        "jobboard_new.html",
        status=status,
        cache=False,
        csrf=auth.csrf or "",
        v=values,
        error=error,
        work_modes=WORK_MODES,
        settings=SETTINGS,
        credentials=jobs.CREDENTIALS,
    )


def _employer(request: Request) -> Auth | Response:
    auth = _who(request)
    if auth.user is None:
        return _login()
    if auth.user.role not in ("employer", "admin"):
        return _message(
            request, "Employers only", "Only employer accounts post jobs: ask the site's administrator.", 403
        )
    return auth


@router.get("/jobs/new")
async def new_job(request: Request) -> Response:
    def work() -> Response:
        auth = _employer(request)
        return auth if isinstance(auth, Response) else _new_form(request, auth, {"days": "30", "pay_period": "year"})

    return await _thread(work)


@router.post("/jobs/new")
async def new_job_submit(request: Request) -> Response:
    form = await _form(request)

    def work() -> Response:
        auth = _employer(request)
        if isinstance(auth, Response):
            return auth
        if form is None or not check_csrf(auth, form.get("csrf")):
            return _message(request, "The form has expired", "Open the page again and send the form from it.", 403)
        try:
            data = jobs.JobInput(
                title=form.get("title", ""),
                employer_name=form.get("employer_name", ""),
                work_mode=form.get("work_mode", ""),
                location=form.get("location", ""),
                credentials=jobs.credential_list(form.get("credentials", "")),
                specialty=form.get("specialty", ""),
                setting=form.get("setting", ""),
                pay_min=_int(form.get("pay_min"), "pay_min"),
                pay_max=_int(form.get("pay_max"), "pay_max"),
                pay_period=form.get("pay_period", ""),
                description=form.get("description", ""),
                days=_int(form.get("days"), "days") or 30,
            )
            assert auth.user is not None
            job = jobs.post_job(policy_of(request).engine, auth.user, data)
        except jobs.JobError as exc:
            return _new_form(request, auth, form, exc.message, 422)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    return await _thread(work)


# --- a job and applying -----------------------------------------------------------------------------------------


def _job_page(request: Request, job_id: int, auth: Auth, error: str = "", status: int = 200) -> Response:
    db = policy_of(request).engine
    job = jobs.get_job(db, job_id, auth.user)
    if job is None:
        return _message(request, "No such job", "This job does not exist or was removed.", 404)
    user = auth.user
    applied = [a for a in job_apply.mine(db, user) if a.job_id == job_id] if user else []
    return _pages(request).page(
        request,
        "jobboard_job.html",
        status=status,
        cache=False,
        job=job,
        user=user,
        csrf=auth.csrf or "",
        applied=applied,
        error=error,
        when=feeds.day,
        limit_mb=request.app.state.resume_limit >> 20,
    )


@router.get("/jobs/{job_id:int}")
async def job_page(request: Request, job_id: int) -> Response:
    return await _thread(lambda: _job_page(request, job_id, _who(request)))


@router.post("/jobs/{job_id:int}/apply")
async def apply_submit(request: Request, job_id: int) -> Response:
    auth = await anyio.to_thread.run_sync(_who, request)
    if auth.user is None:
        return _login()
    try:
        sent = await read_application(request)
    except TooLarge:
        limit = request.app.state.resume_limit >> 20
        return await _thread(lambda: _job_page(request, job_id, auth, f"The resume is larger than {limit} MB.", 413))
    except BadForm as exc:
        why = str(exc)
        return await _thread(lambda: _job_page(request, job_id, auth, why, 422))
    if not check_csrf(auth, sent.csrf):
        return _message(request, "The form has expired", "Open the page again and send the form from it.", 403)

    def work() -> Response:
        assert auth.user is not None
        try:
            job_apply.apply(
                policy_of(request).engine,
                api.home_of(request),
                job_id,
                auth.user,
                sent.cover_note,
                sent.filename,
                sent.data,
                request.app.state.resume_limit,
            )
        except jobs.JobError as exc:
            return _job_page(request, job_id, auth, exc.message, 422)
        except LookupError:
            return _message(request, "This job is closed", "It expired or was removed before the application.", 404)
        except PermissionError as exc:
            return _job_page(request, job_id, auth, str(exc), 403)
        return RedirectResponse("/jobs/applications", status_code=303)

    return await _thread(work)


# --- employers and applicants ----------------------------------------------------------------------------------


@router.get("/jobs/mine")
async def my_jobs(request: Request) -> Response:
    def work() -> Response:
        auth = _employer(request)
        if isinstance(auth, Response):
            return auth
        assert auth.user is not None
        db = policy_of(request).engine
        return _pages(request).page(
            request,
            "jobboard_mine.html",
            cache=False,
            csrf=auth.csrf or "",
            posted=jobs.employer_jobs(db, auth.user),
            applicants=job_apply.for_employer(db, auth.user),
            states=job_apply.EMPLOYER_STATES,
            when=feeds.day,
        )

    return await _thread(work)


@router.get("/jobs/applications")
async def my_applications(request: Request) -> Response:
    def work() -> Response:
        auth = _who(request)
        if auth.user is None:
            return _login()
        found = job_apply.mine(policy_of(request).engine, auth.user)
        return _pages(request).page(
            request, "jobboard_applications.html", cache=False, csrf=auth.csrf or "", found=found, when=feeds.day
        )

    return await _thread(work)


@router.post("/jobs/applications/{application_id:int}/state")
async def application_state(request: Request, application_id: int) -> Response:
    form = await _form(request)

    def work() -> Response:
        auth = _who(request)
        if auth.user is None:
            return _login()
        if form is None or not check_csrf(auth, form.get("csrf")):
            return _message(request, "The form has expired", "Open the page again and send the form from it.", 403)
        state = form.get("state", "")
        try:
            found = job_apply.set_state(
                policy_of(request).engine, auth.user, application_id, state if state in STATES else ""
            )
        except jobs.JobError as exc:
            return _message(request, "Not changed", exc.message, 422)
        if found is None:
            return _message(request, "No such application", "It does not exist or is not yours.", 404)
        return RedirectResponse(
            "/jobs/applications" if found.user_id == auth.user.id else "/jobs/mine", status_code=303
        )

    return await _thread(work)


@router.get("/jobs/applications/{application_id:int}/resume")
async def resume(request: Request, application_id: int) -> Response:
    def work() -> Response:
        auth = _who(request)
        if auth.user is None:
            return _login()
        return api.resume_response(request, application_id, auth)

    return await _thread(work)


# --- moderation -------------------------------------------------------------------------------------------------


@router.post("/jobs/{job_id:int}/moderate")
async def moderate(request: Request, job_id: int) -> Response:
    form = await _form(request)

    def work() -> Response:
        auth = _who(request)
        if auth.user is None:
            return _login()
        if form is None or not check_csrf(auth, form.get("csrf")):
            return _message(request, "The form has expired", "Open the page again and send the form from it.", 403)
        db, action = policy_of(request).engine, form.get("action", "")
        try:
            if action in ("hide", "show"):
                jobs.set_hidden(db, auth.user, job_id, action == "hide")
                return RedirectResponse(f"/jobs/{job_id}", status_code=303)
            if action == "delete":
                job_apply.remove_files(api.home_of(request), jobs.delete_job(db, auth.user, job_id))
                return _message(request, "Job deleted", "The job, its applications and their resumes are deleted.")
        except PermissionError as exc:
            return _message(request, "Not allowed", str(exc), 403)
        return _message(request, "Unknown action", "Hide, show or delete.", 422)

    return await _thread(work)


# --- feeds ---------------------------------------------------------------------------------------------------------


@router.get("/jobs/feed.atom")
@router.get("/jobs/feed.rss")
@router.get("/jobs/feed.json")
async def feed(request: Request) -> Response:
    kind = request.url.path.rsplit(".", 1)[1]
    found = await anyio.to_thread.run_sync(jobs.open_jobs, policy_of(request).engine)
    body, media = feeds.render(kind, base_url(request), found, time.time())
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=300"})
