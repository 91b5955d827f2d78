"""The job board over JSON: search open jobs (public), a job, post a job (employers), apply with a resume
(multipart, members), an employer's applicants and their states, the applicant's own applications, resumes.

Authentication as for the rest of the API: a session cookie (changes carry ``X-CSRF-Token``) or an
``Authorization: Bearer`` key. The application database is reached from worker threads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from medcode.app import accounts, job_apply, jobs, keys
from medcode.web.api.jobboard_form import read_application
from medcode.web.api.schemas import errors
from medcode.web.auth import SESSION_COOKIE, Auth, auth_of, check_csrf, policy_of
from medcode.web.deps import error, json
from medcode.web.pages.upload import BadForm, TooLarge

router = APIRouter(prefix="/api", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CsrfHeader = Annotated[str | None, Header(alias="X-CSRF-Token", include_in_schema=False)]
NO_USER = "no session or key (or the session has ended)"
CSRF = "a missing or wrong X-CSRF-Token"


@dataclasses.dataclass(frozen=True)
class JobPage:
    total: int
    offset: int
    data: list[jobs.JobView]


@dataclasses.dataclass(frozen=True)
class Applications:
    count: int
    data: list[job_apply.ApplicationView]


class JobBody(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    employer_name: str = Field(min_length=1, max_length=200)
    work_mode: Literal["remote", "hybrid", "onsite"]
    location: str = Field(default="", max_length=200)
    credentials: list[str] = Field(default_factory=list, max_length=20)
    specialty: str = Field(default="", max_length=100)
    setting: Literal["professional", "facility", "risk adjustment", "auditing"]
    pay_min: int | None = Field(default=None, ge=1, le=10_000_000)
    pay_max: int | None = Field(default=None, ge=1, le=10_000_000)
    pay_period: Literal["hour", "year"] = "year"
    description: str = Field(min_length=1, max_length=jobs.DESCRIPTION_MAX)
    days: int = Field(default=30, ge=1, le=jobs.MAX_DAYS)


class StateBody(BaseModel):
    state: Literal["submitted", "reviewed", "interview", "offer", "rejected", "withdrawn"]


class HiddenBody(BaseModel):
    hidden: bool


class Refused(Exception):
    def __init__(self, status: int, kind: str, message: str, **extra: Any):
        self.status, self.kind, self.message, self.extra = status, kind, message, extra
        super().__init__(message)


def requester(request: Request) -> Auth:
    """The signed-in user (session) or key owner, looked up here when the accounts layer had no reason to."""
    auth = auth_of(request)
    if auth.user is not None:
        return auth
    db = policy_of(request).engine
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        found = keys.key_owner(db, header[7:].strip()[:200])
        if found is None:
            raise Refused(401, "bad_key", "this API key is unknown or revoked")
        return Auth(user=found[1], key_id=found[0])
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = accounts.session_user(db, token)
        if session is not None:
            return Auth(user=session[0], csrf=session[1], token=token)
    return Auth()


def signed_in(request: Request, csrf: str | None = None, *, write: bool) -> Auth:
    auth = requester(request)
    if auth.user is None:
        raise Refused(401, "auth_required", "log in or send an API key first")
    if write and not check_csrf(auth, csrf):
        raise Refused(403, "csrf", "missing or wrong X-CSRF-Token: take it from GET /api/account")
    return auth


def home_of(request: Request) -> FsPath:
    return FsPath(request.app.state.conf.home)


async def _run(request: Request, work: Any) -> Response:
    def guarded() -> Response:
        try:
            out = work()
        except Refused as exc:
            return error(exc.status, exc.kind, exc.message, **exc.extra)
        except jobs.JobError as exc:
            return error(422, "bad_input", exc.message, field=exc.field)
        return out if isinstance(out, Response) else json(out)

    return await anyio.to_thread.run_sync(guarded)


def _plain(obj: Any) -> Any:
    return dataclasses.asdict(obj)


# --- search and read -------------------------------------------------------------------------------------


@router.get(
    "/jobs",
    summary="Search open jobs (every word must match; newest first)",
    responses={200: {"model": JobPage}, **errors(e422="a parameter out of its range or an unknown credential")},
)
async def search_jobs(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="words, stemmed as the code search does")] = "",
    credential: Annotated[str, Query(max_length=10, description="CPC, CCS, CCS-P, RHIT, RHIA, CRC, ...")] = "",
    remote: Annotated[bool | None, Query(description="true: remote jobs only")] = None,
    mode: Annotated[Literal["remote", "hybrid", "onsite"] | None, Query()] = None,
    specialty: Annotated[str, Query(max_length=100)] = "",
    pay_min: Annotated[int | None, Query(ge=0, le=10_000_000, description="a year; hourly pay x 2,080")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = jobs.PAGE,
) -> Response:
    def work() -> Any:
        if credential.strip() and credential.strip().upper() not in jobs.CREDENTIALS:
            raise Refused(
                422, "bad_input", f"unknown credential (known: {', '.join(jobs.CREDENTIALS)})", field="credential"
            )
        filters = jobs.Filters(q, credential.strip(), mode or ("remote" if remote else ""), specialty, pay_min)
        total, found = jobs.search(policy_of(request).engine, filters, offset, limit)
        return {"total": total, "offset": offset, "data": [_plain(j) for j in found]}

    return await _run(request, work)


@router.get("/jobs/{job_id}", summary="A job", responses={200: {"model": jobs.JobView}, **errors(e404="no such job")})
async def get_job(request: Request, job_id: JobId) -> Response:
    def work() -> Any:
        found = jobs.get_job(policy_of(request).engine, job_id, requester(request).user)
        if found is None:
            raise Refused(404, "not_found", "no such job")
        return _plain(found)

    return await _run(request, work)


# --- employers ---------------------------------------------------------------------------------------------


@router.post(
    "/jobs",
    status_code=201,
    summary="Post a job (employers)",
    responses={
        201: {"model": jobs.JobView},
        **errors(e401=NO_USER, e403=CSRF + ", or an account that is not an employer's", e422="a field refused"),
    },
)
async def post_job(request: Request, body: JobBody, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Any:
        auth = signed_in(request, x_csrf_token, write=True)
        assert auth.user is not None
        data = jobs.JobInput(**{**body.model_dump(), "credentials": tuple(body.credentials)})
        try:
            return json(_plain(jobs.post_job(policy_of(request).engine, auth.user, data)), 201)
        except PermissionError as exc:
            raise Refused(403, "forbidden", str(exc)) from None

    return await _run(request, work)


@router.get(
    "/jobs/{job_id}/applications",
    summary="Applications to a job (its employer)",
    responses={200: {"model": Applications}, **errors(e401=NO_USER, e404="no such job, or not yours")},
)
async def job_applications(request: Request, job_id: JobId) -> Response:
    def work() -> Any:
        auth = signed_in(request, write=False)
        assert auth.user is not None
        found = job_apply.for_job(policy_of(request).engine, job_id, auth.user)
        if found is None:
            raise Refused(404, "not_found", "no such job among yours")
        return {"count": len(found), "data": [_plain(a) for a in found]}

    return await _run(request, work)


@router.post(
    "/applications/{application_id}/state",
    summary="Move an application (its job's employer; the applicant may withdraw)",
    responses={
        200: {"model": job_apply.ApplicationView},
        **errors(e401=NO_USER, e403=CSRF, e404="no such application, or not yours", e422="a state you may not set"),
    },
)
async def application_state(
    request: Request, application_id: ApplicationId, body: StateBody, x_csrf_token: CsrfHeader = None
) -> Response:
    def work() -> Any:
        auth = signed_in(request, x_csrf_token, write=True)
        assert auth.user is not None
        found = job_apply.set_state(policy_of(request).engine, auth.user, application_id, body.state)
        if found is None:
            raise Refused(404, "not_found", "no such application among yours")
        return _plain(found)

    return await _run(request, work)


# --- applicants -------------------------------------------------------------------------------------------

_APPLY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["resume"],
                    "properties": {
                        "cover_note": {"type": "string", "maxLength": job_apply.COVER_MAX},
                        "resume": {"type": "string", "format": "binary", "description": "PDF or DOCX"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/jobs/{job_id}/apply",
    status_code=201,
    summary="Apply to a job with a cover note and a resume (multipart; PDF or DOCX)",
    openapi_extra=_APPLY_BODY,
    responses={
        201: {"model": job_apply.ApplicationView},
        **errors(
            e401=NO_USER,
            e403=CSRF + ", or the job's own employer",
            e404="no such open job",
            e413="a resume over MEDCODE_RESUME_MAX_MB",
            e422="not a multipart form, or a resume that is not a PDF or DOCX file",
        ),
    },
)
async def apply(request: Request, job_id: JobId, x_csrf_token: CsrfHeader = None) -> Response:
    try:
        auth = await anyio.to_thread.run_sync(lambda: signed_in(request, x_csrf_token, write=True))
        sent = await read_application(request)
    except Refused as exc:
        return error(exc.status, exc.kind, exc.message)
    except TooLarge as exc:
        return error(413, "too_large", str(exc), field="resume")
    except BadForm as exc:
        return error(422, "bad_input", str(exc), field="resume")

    def work() -> Any:
        assert auth.user is not None
        try:
            found = job_apply.apply(
                policy_of(request).engine,
                home_of(request),
                job_id,
                auth.user,
                sent.cover_note,
                sent.filename,
                sent.data,
                request.app.state.resume_limit,
            )
        except LookupError:
            raise Refused(404, "not_found", "no such open job") from None
        except PermissionError as exc:
            raise Refused(403, "forbidden", str(exc)) from None
        return json(_plain(found), 201)

    return await _run(request, work)


@router.get(
    "/applications",
    summary="The signed-in user's applications",
    responses={200: {"model": Applications}, **errors(e401=NO_USER)},
)
async def my_applications(request: Request) -> Response:
    def work() -> Any:
        auth = signed_in(request, write=False)
        assert auth.user is not None
        found = job_apply.mine(policy_of(request).engine, auth.user)
        return {"count": len(found), "data": [_plain(a) for a in found]}

    return await _run(request, work)


def resume_response(request: Request, application_id: ApplicationId, auth: Auth) -> Response:
    assert auth.user is not None
    found = job_apply.resume(policy_of(request).engine, home_of(request), application_id, auth.user)
    if found is None:
        return error(403, "forbidden", "only the job's employer and the applicant see this resume")
    path, name, kind = found
    return FileResponse(
        path,
        media_type=kind,
        filename=name,
        headers={"Cache-Control": "private, no-store", "Content-Security-Policy": "sandbox"},
    )


@router.get(
    "/applications/{application_id}/resume",
    summary="An application's resume (the job's employer and the applicant only)",
    responses={
        200: {"description": "the file", "content": {"application/pdf": {}, job_apply.TYPES["docx"]: {}}},
        **errors(e401=NO_USER, e403="not the job's employer or the applicant (or no such application)"),
    },
)
async def get_resume(request: Request, application_id: ApplicationId) -> Response:
    return await _run(request, lambda: resume_response(request, application_id, signed_in(request, write=False)))


# --- admins -------------------------------------------------------------------------------------------------


@router.post(
    "/jobs/{job_id}/hidden",
    summary="Hide or show a job (admins)",
    responses={200: {"model": jobs.JobView}, **errors(e401=NO_USER, e403=CSRF + ", or not an admin", e404="no job")},
)
async def hide_job(request: Request, job_id: JobId, body: HiddenBody, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Any:
        auth = signed_in(request, x_csrf_token, write=True)
        assert auth.user is not None
        db = policy_of(request).engine
        try:
            if not jobs.set_hidden(db, auth.user, job_id, body.hidden):
                raise Refused(404, "not_found", "no such job")
        except PermissionError as exc:
            raise Refused(403, "forbidden", str(exc)) from None
        return _plain(jobs.get_job(db, job_id, auth.user))

    return await _run(request, work)


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Remove a job with its applications and resumes (admins and the job's employer)",
    responses=errors(e401=NO_USER, e403=CSRF + ", or neither an admin nor the job's employer"),
)
async def remove_job(request: Request, job_id: JobId, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Any:
        auth = signed_in(request, x_csrf_token, write=True)
        assert auth.user is not None
        try:
            files = jobs.delete_job(policy_of(request).engine, auth.user, job_id)
        except PermissionError as exc:
            raise Refused(403, "forbidden", str(exc)) from None
        job_apply.remove_files(home_of(request), files)
        return Response(status_code=204)

    return await _run(request, work)
