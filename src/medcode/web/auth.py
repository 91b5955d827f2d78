"""Who is asking, and whether they may: sessions, API keys, page quotas and key rate limits.

``Accounts`` wraps the application (inside ``guard.Guard``). It does no work for a request that needs none:
with ``MEDCODE_QUOTAS=off`` a request without a session cookie passes straight through. Otherwise it makes
one trip to a worker thread, where it runs at most two statements of the application database:

- a session cookie (``medcode_session``) names the user of a page (the site header shows their e-mail and
  "Log out") and of the account API; an ``Authorization: Bearer KEY`` names the user of an API request;
- with quotas on, a code page (``/codes/...``) or a compare page (``/compare?codes=...``) counts towards the
  plan's distinct pages per window (``limits.view_page``); a page over the quota is answered 402 with a page
  that keeps the site header, the search box and the code in the heading; search, the home page, static
  files and ``/healthz`` never count;
- with quotas on, the JSON API (but for ``/api/auth/*`` and the calls the site's own pages make) needs a key
  or a session; a keyed request is counted (``limits.hit_live_key``, which refuses a key revoked on any
  worker) and answered 429 with ``Retry-After`` over the plan's rate; every keyed answer carries
  ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``. With quotas off a key sent to the data API is
  ignored (the API is open, as before).

State-changing account requests authenticated by the session carry its CSRF token (``X-CSRF-Token`` from
the API, a ``csrf`` form field from pages): the handlers check it with :func:`check_csrf`.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcode.app import accounts, keys, limits
from medcode.app.accounts import address_subject
from medcode.app.models import User
from medcode.app.plans import Plan, window_end, window_of
from medcode.web.deps import CODE_PATTERN, error

SESSION_COOKIE = "medcode_session"
CSRF_COOKIE = "medcode_csrf"  # double-submit token of the log-in and register forms (no session yet)
SESSION_SECONDS = 14 * 86400
GUEST_NAV = Markup(
    '<p class="account" id="account-nav"><a href="/account/login">Log in</a> / '
    '<a href="/account/register">Register</a></p>'
)
_GUEST_NAV = str(GUEST_NAV).encode()
ACCOUNT_API = ("/api/auth/", "/api/account", "/api/keys", "/api/admin/")
# JSON calls made by the site's own pages (search as you type, CasePilot's chat): open to guests like the pages
OPEN_API = frozenset({"/api/autocomplete", "/api/ask"})
# the job board's API is public (its handlers look up the session or key of an employer or applicant themselves)
OPEN_API_PREFIXES = ("/api/jobs", "/api/applications/")
_CODE = re.compile(CODE_PATTERN)
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Policy:
    """What the middleware needs, kept in ``app.state.accounts``."""

    engine: Engine
    quotas: bool
    plans: Mapping[str, Plan]
    window: int  # seconds of a quota window
    trust_proxy: bool
    secure_cookies: bool

    @property
    def inline(self) -> bool:
        """Whether the accounts work runs on the event loop: for SQLite, and for PostgreSQL on this machine. A
        statement then takes about a tenth of a millisecond, less than a trip to a worker thread, and a worker
        thread that waits for the GIL to come back after each statement makes a keyed request several times
        slower under load (measured on two workers: SQLite 1,400 against 3,200 requests/s, local PostgreSQL 620
        against 1,480). A database server elsewhere, a network round trip away, is reached from worker threads
        so that its waits never hold up the other requests."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" or (url.host or "localhost") in ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Auth:
    """The requester: a user by session (``token``, ``csrf``) or by API key (``key_id``), or nobody."""

    user: User | None = None
    csrf: str | None = None
    token: str | None = None
    key_id: int | None = None


@dataclass(frozen=True)
class _Decision:
    auth: Auth
    refusal: Response | None = None
    rate: limits.RateResult | None = None
    over: Plan | None = None  # the counted page is over this plan's quota (the 402 page is still to render)


def auth_of(request: Request) -> Auth:
    """The requester as the middleware found them (nobody when it had no reason to look)."""
    found = request.scope.get("state", {}).get("auth")
    return found if isinstance(found, Auth) else Auth()


def policy_of(request: Request) -> Policy:
    found: Policy = request.app.state.accounts
    return found


def check_csrf(auth: Auth, sent: str | None) -> bool:
    """Whether a state-changing request may go on: keyed requests need no token, session requests the
    session's own (a token of an ended session, or of another one, is refused)."""
    if auth.key_id is not None:
        return True
    if auth.csrf is None or not sent:
        return False
    return hmac.compare_digest(auth.csrf.encode(), sent.encode("utf-8", "replace"))


def counted_page(method: str, path: str, query: str) -> str | None:
    """The page a request counts as under the quota (code and compare pages), or None."""
    if method not in ("GET", "HEAD"):
        return None
    if path.startswith("/codes/"):
        code = path[len("/codes/") :]
        if not _CODE.fullmatch(code):
            return None  # malformed: answered with a "not found" page, which does not count
        return "/codes/" + code.upper().replace(".", "")
    if path == "/compare":
        text = " ".join(parse_qs(query).get("codes", []))
        wanted = sorted({c.upper().replace(".", "") for c in _SPLIT.split(text) if c.strip()})
        if not 2 <= len(wanted) <= 5 or any(len(c) > 8 for c in wanted):
            return None  # the form, or a refusal: nothing is shown
        return "/compare?codes=" + ",".join(wanted)
    return None


def client_address(scope: Scope, forwarded: str | None, trust_proxy: bool) -> str:
    if trust_proxy and forwarded:
        return forwarded.split(",")[-1].strip()[:100]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def session_cookie(token: str, secure: bool, max_age: int = SESSION_SECONDS) -> str:
    flags = "; Secure" if secure else ""
    return f"{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{flags}"


def user_nav(user: User, csrf: str | None) -> bytes:
    """The site header's account part for a signed-in user: their e-mail and a "Log out" button."""
    return (
        Markup(
            '<form class="account" id="account-nav" action="/account/logout" method="post">'
            '<a href="/account">{0}</a> <input type="hidden" name="csrf" value="{1}">'
            '<button type="submit">Log out</button></form>'
        )
        .format(user.email, csrf or "")
        .encode()
    )


def _credentials(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None, str | None]:
    """(session token, bearer key, X-Forwarded-For) from the raw headers, without parsing the rest."""
    cookie = bearer = forwarded = None
    for name, value in raw:
        if name == b"cookie" and b"medcode_session=" in value:
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == SESSION_COOKIE and v:
                    cookie = v[:200]
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:].decode("latin-1").strip()[:200] or None
        elif name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
    return cookie, bearer, forwarded


def window_resets(seconds: int, now: float | None = None) -> str:
    """When the quota window of ``now`` ends, in words (UTC)."""
    end = window_end(time.time() if now is None else now, seconds)
    return time.strftime("%H:%M UTC" if seconds < 86400 else "%Y-%m-%d %H:%M UTC", time.gmtime(end))


def window_words(seconds: int) -> str:
    for size, word in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return word if n == 1 else f"{n} {word}s"
    return f"{seconds} seconds"


class Accounts:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/static/") or path == "/healthz":
            await self.app(scope, receive, send)
            return
        policy: Policy = scope["app"].state.accounts
        api = path.startswith("/api/")
        account_api = api and path.startswith(ACCOUNT_API)
        open_api = path in OPEN_API or path.startswith(OPEN_API_PREFIXES)
        gated = policy.quotas and api and not account_api and not open_api
        cookie, bearer, forwarded = _credentials(scope["headers"])
        counted = None
        if policy.quotas and not api:
            counted = counted_page(scope["method"], path, scope.get("query_string", b"").decode("latin-1"))
        if not ((cookie and (not api or account_api or gated)) or (bearer and (account_api or gated))):
            if gated:  # nobody: no need to ask the database
                refusal = error(401, "auth_required", "this API needs a key (Authorization: Bearer KEY) or a session")
                await refusal(scope, receive, send)
                return
            if counted is None:
                await self.app(scope, receive, send)
                return
        address = client_address(scope, forwarded, policy.trust_proxy)
        started = time.perf_counter()
        args = (policy, cookie, bearer if (account_api or gated) else None, counted, gated, address)
        if policy.inline:  # SQLite: a tenth of a millisecond; a worker thread would cost more (see Policy)
            decision = _decide(*args)
        else:
            decision = await anyio.to_thread.run_sync(_decide, *args)
        auth = decision.auth
        scope = {**scope, "state": {**scope.get("state", {}), "auth": auth}}
        spent = (time.perf_counter() - started) * 1000
        if decision.over is not None and counted is not None:
            page = await anyio.to_thread.run_sync(_quota_page, scope, policy, auth, decision.over, counted)
            decision = _Decision(auth, page)
        wrapped = _Rewrite(send, decision, html=not api, counted=counted is not None, spent=spent)
        if decision.refusal is not None:
            await decision.refusal(scope, receive, wrapped)
            return
        await self.app(scope, receive, wrapped)


class KeyCache:
    """Key owners (key id and account) by key, kept a few seconds in this process: a keyed request then costs
    one statement (the count, which also checks that the key is still live: a key revoked or an account
    deleted on any worker is refused at once). A plan changed on another worker reaches this one within
    ``seconds``; the worker that changes it forgets at once."""

    def __init__(self, seconds: float = 2.0, size: int = 10_000):
        self.seconds, self.size = seconds, size
        self._items: dict[str, tuple[float, tuple[int, User] | None]] = {}
        self._lock = threading.Lock()

    def owner(self, db: Engine, key: str) -> tuple[int, User] | None:
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = keys.key_owner(db, key)
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (now + self.seconds, found)
        return found

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def forget(self, user_id: int) -> None:
        with self._lock:
            for key in [k for k, (_, v) in self._items.items() if v is None or v[1].id == user_id]:
                del self._items[key]


KEYS = KeyCache()


class SeenPages:
    """Pages this process has recorded for a subject in a quota window (a bounded set): such a page is open
    for the rest of the window, so seeing it again asks the database nothing."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._items: dict[tuple[str, int, str], None] = {}
        self._lock = threading.Lock()

    def __contains__(self, item: tuple[str, int, str]) -> bool:
        return item in self._items

    def add(self, item: tuple[str, int, str]) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[item] = None


SEEN = SeenPages()


def _decide(
    policy: Policy,
    cookie: str | None,
    bearer: str | None,
    counted: str | None,
    gated: bool,
    address: str,
) -> _Decision:
    db = policy.engine
    auth, rate = Auth(), None
    if bearer is not None:
        # the owner kept a few seconds for the counted data API (the count itself checks the key is live);
        # the account API (keys, account, admin) looks the key up every time
        found = KEYS.owner(db, bearer) if gated else keys.key_owner(db, bearer)
        if found is None:
            return _Decision(auth, error(401, "bad_key", "this API key is unknown or revoked"))
        key_id, user = found
        auth = Auth(user=user, key_id=key_id)
        if gated:
            plan = policy.plans.get(user.plan) or policy.plans["guest"]
            live = limits.hit_live_key(db, key_id, plan.rate_per_minute, int(time.time()))
            if live is None:  # revoked (or its account deleted) by another worker since it was kept
                KEYS.drop(bearer)
                return _Decision(Auth(), error(401, "bad_key", "this API key is unknown or revoked"))
            rate = live
            if not rate.allowed:
                refusal = error(
                    429,
                    "rate_limited",
                    f"this key may make {rate.limit} requests a minute on the {plan.name} plan",
                    retry_after=max(1, rate.reset_epoch - int(time.time())),
                )
                refusal.headers["Retry-After"] = str(max(1, rate.reset_epoch - int(time.time())))
                return _Decision(auth, refusal, rate)
    elif cookie is not None:
        session = accounts.session_user(db, cookie)
        if session is not None:
            auth = Auth(user=session[0], csrf=session[1], token=cookie)
    if gated and auth.user is None:
        message = "the session has ended: log in again" if cookie else "this API needs a key or a session"
        return _Decision(auth, error(401, "auth_required", message))
    if counted is not None:
        viewer = auth.user
        plan = policy.plans.get(viewer.plan if viewer else "guest") or policy.plans["guest"]
        if viewer is not None and viewer.role == "admin":
            plan = policy.plans.get("pro", plan)
        if plan.pages is not None:
            subject = f"u:{viewer.id}" if viewer else address_subject(address)
            seen = (subject, window_of(time.time(), policy.window), counted)
            if seen not in SEEN:  # a page recorded in this window stays open all the window: no need to ask
                if not limits.view_page(db, subject, counted, plan.pages, seen[1]).allowed:
                    return _Decision(auth, over=plan)
                SEEN.add(seen)
    return _Decision(auth, None, rate)


def _quota_page(scope: Scope, policy: Policy, auth: Auth, plan: Plan, counted: str) -> Response:
    from medcode.codes import MalformedCode, UnknownCode
    from medcode.lookup import get_code
    from medcode.web.pages import SYSTEMS

    app: Any = scope["app"]
    request = Request(scope)
    title, code = "", None
    if counted.startswith("/codes/"):
        code = scope["path"][len("/codes/") :].upper()
        try:
            found = get_code(app.state.kb, code)
            code = found.code
            title = getattr(found, "plain_description", None) or found.description
        except (UnknownCode, MalformedCode, LookupError):
            title = ""
    compared = counted.split("=", 1)[1].split(",") if counted.startswith("/compare") else []
    user = auth.user
    return app.state.pages.page(
        request,
        "quota.html",
        status=402,
        cache=False,
        headers={"Vary": "Cookie"},
        code=code,
        title=title,
        compared=compared,
        plan=plan,
        user=user,
        window=window_words(policy.window),
        resets=window_resets(policy.window),
        member_pages=(policy.plans.get("member") or plan).pages,
        query=code or " ".join(compared),
        systems=SYSTEMS,
        chosen=(),
        account_nav=Markup(user_nav(user, auth.csrf).decode()) if user else GUEST_NAV,
    )


class _Rewrite:
    """The answer's send: rate-limit headers on keyed answers; on pages for a signed-in user the header's
    "Log in / Register" becomes their e-mail and "Log out", and the page is private to them."""

    def __init__(self, send: Send, decision: _Decision, *, html: bool, counted: bool, spent: float):
        self.send = send
        self.spent = spent  # milliseconds of the accounts work (Server-Timing: accounts)
        self.decision = decision
        self.nav = user_nav(decision.auth.user, decision.auth.csrf) if html and decision.auth.user else None
        self.counted = counted
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message.get("headers", ())))
            rate = self.decision.rate
            if rate is not None:
                headers["X-RateLimit-Limit"] = str(rate.limit)
                headers["X-RateLimit-Remaining"] = str(max(0, rate.remaining))
                headers["X-RateLimit-Reset"] = str(rate.reset_epoch)
            timing = headers.get("server-timing")
            headers["Server-Timing"] = (f"{timing}, " if timing else "") + f"accounts;dur={self.spent:.2f}"
            if (self.counted or self.nav is not None) and "public" in headers.get("cache-control", ""):
                headers["Cache-Control"] = "private, no-cache"  # no shared cache may keep a counted page
            message = {**message, "headers": headers.raw}
            if self.nav is not None and headers.get("content-type", "").startswith("text/html"):
                self.start = message
                return
            await self.send(message)
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(self.body).replace(_GUEST_NAV, self.nav or b"", 1)
            headers = MutableHeaders(raw=list(self.start["headers"]))
            if "content-length" in headers:
                headers["Content-Length"] = str(len(body))
            await self.send({**self.start, "headers": headers.raw})
            await self.send({"type": "http.response.body", "body": body})
        else:
            await self.send(message)
