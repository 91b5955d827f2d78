"""Account pages (no JavaScript needed): register, log in and out, verify, reset the password, the account
(plan, quota, change the password, delete), API keys, and the admin's users.

Forms of a signed-in user carry the session's CSRF token in a ``csrf`` field; the log-in, register and
reset forms (no session yet) carry a double-submit token equal to the ``medcode_csrf`` cookie. The work
runs in a worker thread (the application database is reached synchronously).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from medcode.app import accounts, keys, limits
from medcode.app.plans import window_of
from medcode.web.api import account as flows
from medcode.web.api import keys as key_api
from medcode.web.auth import (
    CSRF_COOKIE,
    KEYS,
    Auth,
    auth_of,
    check_csrf,
    policy_of,
    session_cookie,
    window_resets,
    window_words,
)
from medcode.web.pages.render import Pages

router = APIRouter(include_in_schema=False)
FORM_BYTES = 64 * 1024  # a larger account form is refused


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"
    autocomplete: str = "off"
    value: str = ""
    required: bool = True


EMAIL = Field("email", "E-mail address", "email", "email")
PASSWORD = Field("password", "Password", "password", "current-password")
NEW_PASSWORD = Field("password", "Password (8 characters or more)", "password", "new-password")


def _pages(request: Request) -> Pages:
    found: Pages = request.app.state.pages
    return found


async def _form(request: Request) -> dict[str, str] | None:
    """The url-encoded form (first value of each field), or None when it is too large."""
    if int(request.headers.get("content-length") or 0) > FORM_BYTES:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _double_submit(request: Request) -> tuple[str, dict[str, str]]:
    """The form token for a page without a session, and the cookie to set when there was none."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(token) <= 64:
        return token, {}
    token = secrets.token_urlsafe(24)
    secure = "; Secure" if policy_of(request).secure_cookies else ""
    return token, {"Set-Cookie": f"{CSRF_COOKIE}={token}; Path=/account; HttpOnly; SameSite=Strict{secure}"}


def _double_ok(request: Request, form: dict[str, str]) -> bool:
    cookie, sent = request.cookies.get(CSRF_COOKIE, ""), form.get("csrf", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode("utf-8", "replace"))


def _open_form(request: Request, kind: str, status: int = 200, error: str = "", email: str = "") -> Response:
    """The register, log-in and reset-request forms."""
    token, cookie = _double_submit(request)
    spec: dict[str, Any] = {
        "register": dict(
            heading="Create an account",
            intro="An account sees more code pages and may create API keys. Only your e-mail address is kept.",
            fields=[Field(**{**EMAIL.__dict__, "value": email}), NEW_PASSWORD],
            submit="Register",
            links=[("/account/login", "I have an account: log in")],
        ),
        "login": dict(
            heading="Log in",
            fields=[Field(**{**EMAIL.__dict__, "value": email}), PASSWORD],
            submit="Log in",
            links=[("/account/register", "Create an account"), ("/account/reset", "Forgot the password?")],
        ),
        "reset": dict(
            heading="Reset the password",
            intro="We will mail a link to choose a new password.",
            fields=[Field(**{**EMAIL.__dict__, "value": email})],
            submit="Send the link",
        ),
    }[kind]
    return _pages(request).page(
        request,
        "account_form.html",
        status=status,
        cache=False,
        headers=cookie,
        action=f"/account/{kind}",
        csrf=token,
        error=error,
        **spec,
    )


def _message(request: Request, heading: str, message: str, status: int = 200, **extra: Any) -> Response:
    return _pages(request).page(
        request, "account_message.html", status=status, cache=False, heading=heading, message=message, **extra
    )


async def _run(work: Callable[[], Response]) -> Response:
    return await anyio.to_thread.run_sync(work)


def _to_login() -> Response:
    return RedirectResponse("/account/login", status_code=303)


def _stale_form(request: Request) -> Response:
    return _message(request, "The form has expired", "Open the page again and send the form from it.", 403, failed=True)


# --- without a session ---------------------------------------------------------------------------------


@router.get("/account/register")
def register_form(request: Request) -> Response:
    return _open_form(request, "register")


@router.post("/account/register")
async def register_submit(request: Request) -> Response:
    form = await _form(request)
    if form is None or not _double_ok(request, form):
        return _stale_form(request)
    email, password = form.get("email", ""), form.get("password", "")

    def work() -> Response:
        try:
            user, sent = flows.register(request, email, password)
        except flows.Refused as exc:
            return _open_form(request, "register", exc.status, exc.message, email[:254])
        if user.verified:
            text = "Your account is ready: log in."
        elif sent:
            text = f"We sent a link to {user.email}. Open it to confirm the address, then log in."
        else:
            text = "The confirmation mail could not be sent. Try again later or ask the site's administrator."
        return _message(request, "Account created", text, 201, links=[("/account/login", "Log in")])

    return await _run(work)


@router.get("/account/login")
def login_form(request: Request) -> Response:
    return _open_form(request, "login")


@router.post("/account/login")
async def login_submit(request: Request) -> Response:
    form = await _form(request)
    if form is None or not _double_ok(request, form):
        return _stale_form(request)
    email, password = form.get("email", ""), form.get("password", "")

    def work() -> Response:
        try:
            _, token, _ = flows.login(request, email, password)
        except flows.Refused as exc:
            out = _open_form(request, "login", exc.status, exc.message, email[:254])
            if "retry_after" in exc.extra:
                out.headers["Retry-After"] = str(exc.extra["retry_after"])
            return out
        out = RedirectResponse("/account", status_code=303)
        out.headers["Set-Cookie"] = session_cookie(token, policy_of(request).secure_cookies)
        return out

    return await _run(work)


@router.get("/account/verify")
def verify(request: Request, token: str = "") -> Response:
    user = accounts.use_token(policy_of(request).engine, token[:200], "verify") if token else None
    if user is None:
        return _message(request, "This link does not work", "It is unknown, used or expired.", 400, failed=True)
    return _message(
        request, "Address confirmed", f"{user.email} is confirmed: log in.", links=[("/account/login", "Log in")]
    )


@router.get("/account/reset")
def reset_form(request: Request) -> Response:
    return _open_form(request, "reset")


@router.post("/account/reset")
async def reset_submit(request: Request) -> Response:
    form = await _form(request)
    if form is None or not _double_ok(request, form):
        return _stale_form(request)
    email = form.get("email", "")

    def work() -> Response:
        user = accounts.find_user(policy_of(request).engine, email)
        if user is not None:
            flows.send_link(request, user, "reset")
        return _message(request, "Check your mail", "If an account has this address, a link was sent to it.", 202)

    return await _run(work)


@router.get("/account/reset/confirm")
def reset_confirm_form(request: Request, token: str = "", error: str = "") -> Response:
    csrf, cookie = _double_submit(request)
    return _pages(request).page(
        request,
        "account_form.html",
        cache=False,
        headers=cookie,
        heading="Choose a new password",
        action="/account/reset/confirm",
        csrf=csrf,
        hidden=[("token", token[:200])],
        fields=[NEW_PASSWORD],
        submit="Set the password",
        error=error,
    )


@router.post("/account/reset/confirm")
async def reset_confirm(request: Request) -> Response:
    form = await _form(request)
    if form is None or not _double_ok(request, form):
        return _stale_form(request)

    def work() -> Response:
        try:
            user = accounts.reset_password(policy_of(request).engine, form.get("token", ""), form.get("password", ""))
        except accounts.AccountError as exc:
            return reset_confirm_form(request, form.get("token", ""), exc.message)
        if user is None:
            return _message(request, "This link does not work", "It is unknown, used or expired.", 400, failed=True)
        return _message(
            request, "Password changed", "Log in with the new password.", links=[("/account/login", "Log in")]
        )

    return await _run(work)


# --- with a session ------------------------------------------------------------------------------------


async def _session_form(request: Request) -> tuple[Auth, dict[str, str]] | Response:
    """The signed-in user and the form, or the answer when there is no session or the token is wrong."""
    auth = auth_of(request)
    if auth.user is None or auth.token is None:
        return _to_login()
    form = await _form(request)
    if form is None or not check_csrf(auth, form.get("csrf")):
        return _stale_form(request)
    return auth, form


@router.post("/account/logout")
async def logout(request: Request) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found if auth_of(request).user is not None else RedirectResponse("/", status_code=303)
    auth, _ = found
    await anyio.to_thread.run_sync(accounts.end_session, policy_of(request).engine, auth.token or "")
    out = RedirectResponse("/", status_code=303)
    out.headers["Set-Cookie"] = session_cookie("", policy_of(request).secure_cookies, max_age=0)
    return out


def _home(request: Request, auth: Auth, status: int = 200, **extra: Any) -> Response:
    policy, user = policy_of(request), auth.user
    assert user is not None
    plan = policy.plans.get(user.plan) or policy.plans["guest"]
    used = limits.pages_used(policy.engine, f"u:{user.id}", window_of(time.time(), policy.window))
    return _pages(request).page(
        request,
        "account_home.html",
        status=status,
        cache=False,
        user=user,
        plan=plan,
        used=used,
        quotas=policy.quotas,
        window=window_words(policy.window),
        resets=window_resets(policy.window),
        csrf=auth.csrf,
        **extra,
    )


@router.get("/account")
def account_page(request: Request) -> Response:
    auth = auth_of(request)
    if auth.user is None or auth.token is None:
        return _to_login()
    return _home(request, auth)


@router.post("/account/password")
async def password_submit(request: Request) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found

    def work() -> Response:
        assert auth.user is not None
        try:
            ok = accounts.change_password(
                policy_of(request).engine, auth.user, form.get("old", ""), form.get("new", ""), keep_token=auth.token
            )
        except accounts.AccountError as exc:
            return _home(request, auth, 422, error=exc.message)
        if not ok:
            return _home(request, auth, 403, error="The current password is wrong.")
        return _home(request, auth, message="The password is changed.")

    return await _run(work)


@router.post("/account/delete")
async def delete_submit(request: Request) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found

    def work() -> Response:
        assert auth.user is not None
        if not accounts.delete_account(policy_of(request).engine, auth.user, form.get("password", "")):
            return _home(request, auth, 403, error="The password is wrong: the account is not deleted.")
        KEYS.forget(auth.user.id)
        out = _message(request, "Account deleted", "The account and all its data are deleted.")
        out.headers["Set-Cookie"] = session_cookie("", policy_of(request).secure_cookies, max_age=0)
        return out

    return await _run(work)


def _keys_page(request: Request, auth: Auth, status: int = 200, **extra: Any) -> Response:
    policy, user = policy_of(request), auth.user
    assert user is not None
    shown = [key_api.key_view(k) for k in keys.list_keys(policy.engine, user)]
    for k in shown:
        k["created"] = time.strftime("%Y-%m-%d", time.gmtime(k["created"]))
        k["usage"] = [(u["day"], u["requests"]) for u in k["usage"]]
        if k["revoked"]:
            k["revoked"] = time.strftime("%Y-%m-%d", time.gmtime(k["revoked"]))
    return _pages(request).page(
        request,
        "account_keys.html",
        status=status,
        cache=False,
        keys=shown,
        plan=policy.plans.get(user.plan) or policy.plans["guest"],
        csrf=auth.csrf,
        **extra,
    )


@router.get("/account/keys")
def keys_page(request: Request) -> Response:
    auth = auth_of(request)
    if auth.user is None or auth.token is None:
        return _to_login()
    return _keys_page(request, auth)


@router.post("/account/keys")
async def key_create(request: Request) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found

    def work() -> Response:
        assert auth.user is not None
        policy = policy_of(request)
        plan = policy.plans.get(auth.user.plan) or policy.plans["guest"]
        if plan.rate_per_minute <= 0:
            return _keys_page(request, auth, 403, error=f"The {plan.name} plan has no API keys.")
        name = form.get("name", "").strip()[:100] or "key"
        try:
            _, key = keys.create_key(policy.engine, auth.user, name)
        except accounts.AccountError as exc:
            return _keys_page(request, auth, 422, error=exc.message)
        return _keys_page(request, auth, 201, new_key=key, new_name=name)

    return await _run(work)


@router.post("/account/keys/{key_id}/revoke")
async def key_revoke(request: Request, key_id: int) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, _ = found

    def work() -> Response:
        assert auth.user is not None
        keys.revoke_key(policy_of(request).engine, auth.user, key_id)
        KEYS.forget(auth.user.id)
        return RedirectResponse("/account/keys", status_code=303)

    return await _run(work)
