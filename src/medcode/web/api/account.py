"""Accounts over JSON: register, verify, log in and out, reset and change the password, remove the account,
API keys, and the admin's user list.

Requests that change something and are authenticated by the session cookie carry the session's CSRF token
(from ``GET /api/account``) in ``X-CSRF-Token``; requests with an API key need none. Every handler is a
plain function (FastAPI runs it in a worker thread): the application database is reached synchronously.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from medcode.app import accounts, keys, limits, mail
from medcode.app.models import User
from medcode.app.plans import window_of
from medcode.web.api.schemas import errors
from medcode.web.auth import KEYS, Auth, auth_of, check_csrf, client_address, policy_of, session_cookie
from medcode.web.deps import error, json

router = APIRouter(prefix="/api", tags=["accounts"])
log = logging.getLogger("medcode.web.accounts")
TEXT = 4096  # characters of any text field read (the core refuses passwords over 1,024 with its own words)


class Credentials(BaseModel):
    email: str = Field(max_length=TEXT)
    password: str = Field(max_length=TEXT)


class TokenBody(BaseModel):
    token: str = Field(max_length=200)


class EmailBody(BaseModel):
    email: str = Field(max_length=TEXT)


class ResetBody(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=TEXT)


class PasswordChange(BaseModel):
    old: str = Field(max_length=TEXT)
    new: str = Field(max_length=TEXT)


class PasswordBody(BaseModel):
    password: str = Field(max_length=TEXT)


class Refused(Exception):
    """A request the account API answers with an error (status, type, message)."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any):
        self.status, self.kind, self.message, self.extra = status, kind, message, extra
        super().__init__(message)

    def response(self) -> Response:
        out = error(self.status, self.kind, self.message, **self.extra)
        if "retry_after" in self.extra:
            out.headers["Retry-After"] = str(self.extra["retry_after"])
        return out


NO_SESSION = "no session (or it has ended), or an unknown or revoked key"
CSRF = "a missing or wrong X-CSRF-Token, or an API key where a session is needed"
WRONG_OR_CSRF = "a wrong password, a missing or wrong X-CSRF-Token, or an API key where a session is needed"
BAD = "a body that is not the JSON above, or a value the account rules refuse (the field is named)"
CsrfHeader = Annotated[str | None, Header(alias="X-CSRF-Token", include_in_schema=False)]


# --- flows shared with the pages --------------------------------------------------------------------


def base_url(request: Request) -> str:
    """Where links in mail point: MEDCODE_PUBLIC_URL, else the address this server listens on (never the
    request's Host header, which a stranger could set to their own site in a password-reset request)."""
    public: str = request.app.state.public_url
    if public:
        return public
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    return f"http://{host}:{port}"


def send_link(request: Request, user: User, purpose: str) -> bool:
    """Mail a verification or reset link; False when the mail server refused (the failure is logged)."""
    db, conf = policy_of(request).engine, request.app.state.conf
    token = accounts.make_token(db, user, purpose)
    if purpose == "verify":
        subject = "Confirm your medcode account"
        text = (
            "Open this link to confirm your e-mail address (it works for 48 hours):\n\n"
            f"{base_url(request)}/account/verify?token={token}\n"
        )
    else:
        subject = "Reset your medcode password"
        text = (
            f"Open this link to choose a new password (it works for one hour):\n\n"
            f"{base_url(request)}/account/reset/confirm?token={token}\n\n"
            "If you did not ask for this, ignore this message: your password stays as it is.\n"
        )
    try:
        mail.send(conf, user.email, subject, text)
    except mail.MailError as exc:
        log.error("%s mail not sent: %s", purpose, exc)
        return False
    return True


def register(request: Request, email: str, password: str) -> tuple[User, bool]:
    """(the new account, whether a verification mail went out); raises Refused."""
    conf = request.app.state.conf
    try:
        user = accounts.register(policy_of(request).engine, email, password, verified=not conf.verify_email)
    except accounts.AccountExists:
        raise Refused(409, "account_exists", "an account with this e-mail address exists") from None
    except accounts.AccountError as exc:
        raise Refused(422, "bad_input", exc.message, field=exc.field) from None
    sent = send_link(request, user, "verify") if not user.verified else False
    return user, sent


def login(request: Request, email: str, password: str) -> tuple[User, str, str]:
    """(user, session token, csrf token); raises Refused with the same answer for an unknown e-mail and a
    wrong password."""
    policy = policy_of(request)
    address = client_address(request.scope, request.headers.get("x-forwarded-for"), policy.trust_proxy)
    try:
        user = accounts.authenticate(policy.engine, email, password, address)
    except accounts.LoginLimited as exc:
        raise Refused(
            429,
            "login_limited",
            "too many failed log-ins: wait before trying again",
            retry_after=int(exc.retry_after),
        ) from None
    if user is None:
        raise Refused(401, "login_failed", "wrong e-mail or password")
    if not user.verified:
        raise Refused(403, "unverified", "confirm your e-mail address first: follow the link sent to it")
    token, csrf = accounts.create_session(policy.engine, user)
    return user, token, csrf


def require_user(request: Request, csrf: str | None = None, *, write: bool, session: bool = True) -> Auth:
    """The signed-in user; a request that changes something carries the session's CSRF token."""
    auth = auth_of(request)
    if auth.user is None:
        raise Refused(401, "auth_required", "log in first (the session has ended or there is none)")
    if session and auth.token is None:
        raise Refused(403, "session_required", "this needs a session (log in), not an API key")
    if write and not check_csrf(auth, csrf):
        raise Refused(403, "csrf", "missing or wrong X-CSRF-Token: take it from GET /api/account")
    return auth


def account_view(request: Request, auth: Auth) -> dict[str, Any]:
    policy, user = policy_of(request), auth.user
    assert user is not None
    plan = policy.plans.get(user.plan) or policy.plans["guest"]
    quota: dict[str, Any] = {
        "on": policy.quotas,
        "plan": plan.name,
        "pages": plan.pages,
        "window_seconds": policy.window,
        "used": limits.pages_used(policy.engine, f"u:{user.id}", window_of(time.time(), policy.window)),
        "rate_per_minute": plan.rate_per_minute,
    }
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "plan": user.plan,
        "verified": user.verified,
        "csrf_token": auth.csrf,
        "quota": quota,
        "keys": sum(1 for k in keys.list_keys(policy.engine, user) if not k.revoked),
    }


def _guarded(work: Any) -> Response:
    try:
        out = work()
    except Refused as exc:
        return exc.response()
    return out if isinstance(out, Response) else json(out)


# --- routes -------------------------------------------------------------------------------------------


@router.post(
    "/auth/register",
    status_code=201,
    summary="Create an account",
    responses=errors(e409="an account with this e-mail address exists", e422=BAD),
)
def api_register(request: Request, body: Credentials) -> Response:
    def work() -> Response:
        user, sent = register(request, body.email, body.password)
        return json({"id": user.id, "email": user.email, "verified": user.verified, "mail_sent": sent}, 201)

    return _guarded(work)


@router.post(
    "/auth/verify",
    summary="Confirm an e-mail address with the token mailed to it",
    responses=errors(e400="an unknown, used or expired token", e422=BAD),
)
def api_verify(request: Request, body: TokenBody) -> Response:
    user = accounts.use_token(policy_of(request).engine, body.token, "verify")
    if user is None:
        return error(400, "bad_token", "this link is unknown, used or expired")
    return json({"id": user.id, "email": user.email, "verified": True})


@router.post(
    "/auth/login",
    summary="Log in (sets the session cookie)",
    responses=errors(
        e401="wrong e-mail or password (the same answer for both)",
        e403="the e-mail address is not confirmed yet",
        e422=BAD,
        e429="too many failed log-ins for this account or from this address (Retry-After)",
    ),
)
def api_login(request: Request, body: Credentials) -> Response:
    def work() -> Response:
        user, token, csrf = login(request, body.email, body.password)
        out = json({"id": user.id, "email": user.email, "role": user.role, "plan": user.plan, "csrf_token": csrf})
        out.headers["Set-Cookie"] = session_cookie(token, policy_of(request).secure_cookies)
        return out

    return _guarded(work)


@router.post(
    "/auth/logout", status_code=204, summary="Log out (ends the session)", responses=errors(e401=NO_SESSION, e403=CSRF)
)
def api_logout(request: Request, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = require_user(request, x_csrf_token, write=True)
        accounts.end_session(policy_of(request).engine, auth.token or "")
        out = Response(status_code=204)
        out.headers["Set-Cookie"] = session_cookie("", policy_of(request).secure_cookies, max_age=0)
        return out

    return _guarded(work)


@router.post("/auth/password-reset", status_code=202, summary="Mail a password-reset link", responses=errors(e422=BAD))
def api_reset(request: Request, body: EmailBody) -> Response:
    user = accounts.find_user(policy_of(request).engine, body.email)
    if user is not None:
        send_link(request, user, "reset")
    # the same answer whether an account exists or not
    return json({"message": "if an account has this e-mail address, a reset link was sent to it"}, 202)


@router.post(
    "/auth/password-reset/confirm",
    summary="Set a new password with a reset token",
    responses=errors(e400="an unknown, used or expired token", e422=BAD),
)
def api_reset_confirm(request: Request, body: ResetBody) -> Response:
    try:
        user = accounts.reset_password(policy_of(request).engine, body.token, body.password)
    except accounts.AccountError as exc:
        return error(422, "bad_input", exc.message, field=exc.field)
    if user is None:
        return error(400, "bad_token", "this link is unknown, used or expired")
    return json({"id": user.id, "email": user.email})


@router.get("/account", summary="The signed-in account, its CSRF token and quota", responses=errors(e401=NO_SESSION))
def api_account(request: Request) -> Response:
    return _guarded(lambda: account_view(request, require_user(request, write=False, session=False)))


@router.post(
    "/account/password",
    summary="Change the password",
    responses=errors(e401=NO_SESSION, e403=WRONG_OR_CSRF, e422=BAD),
)
def api_password(request: Request, body: PasswordChange, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        auth = require_user(request, x_csrf_token, write=True)
        assert auth.user is not None
        try:
            ok = accounts.change_password(
                policy_of(request).engine, auth.user, body.old, body.new, keep_token=auth.token
            )
        except accounts.AccountError as exc:
            raise Refused(422, "bad_input", exc.message, field=exc.field) from None
        if not ok:
            raise Refused(403, "wrong_password", "the current password is wrong")
        return {"changed": True}

    return _guarded(work)


@router.delete(
    "/account",
    summary="Remove the account and all its data",
    responses=errors(e401=NO_SESSION, e403=WRONG_OR_CSRF, e422=BAD),
)
def api_delete(request: Request, body: Annotated[PasswordBody, Body()], x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = require_user(request, x_csrf_token, write=True)
        assert auth.user is not None
        if not accounts.delete_account(policy_of(request).engine, auth.user, body.password):
            raise Refused(403, "wrong_password", "the password is wrong")
        KEYS.forget(auth.user.id)
        out = Response(status_code=204)
        out.headers["Set-Cookie"] = session_cookie("", policy_of(request).secure_cookies, max_age=0)
        return out

    return _guarded(work)
