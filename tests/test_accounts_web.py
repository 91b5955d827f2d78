"""Accounts, quotas and API keys over real HTTP: `medcode serve` in its own process on SQLite and on PostgreSQL
(MEDCODE_TEST_DATABASE_URL), with an SMTP server of the test's own (aiosmtpd) receiving the mail.

Every client sends its own X-Forwarded-For (the servers trust it, MEDCODE_TRUST_PROXY=on), so that guest
quotas and login limits by address do not leak from one test into another.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from appdb_fixtures import appdb_url, calm_login_window  # noqa: F401 (fixture)
from sqlalchemy import update

from medcode.app import db
from medcode.app.models import SessionRow

PASSWORD = "correct horse battery"
LINK = re.compile(r"https?://\S+/account/(?:verify|reset/confirm)\?token=([A-Za-z0-9_\-]+)")


# --- an SMTP server and medcode servers -------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[tuple[str, str]] = field(default_factory=list)  # (to, text)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True) if not msg.is_multipart() else b""
        with self.lock:
            self.messages.append((",".join(envelope.rcpt_tos), (body or b"").decode("utf-8", "replace")))
        return "250 OK"

    def token_for(self, email: str, timeout: float = 20) -> str:
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                for to, text in reversed(self.messages):
                    if to == email.lower() and LINK.search(text):
                        return LINK.search(text).group(1)  # type: ignore[union-attr]
            time.sleep(0.1)
        raise AssertionError(f"no mail with a link reached {email}")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, str]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, f"smtp://127.0.0.1:{port}"
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, address: str | None = None) -> httpx.Client:
        """A client of its own address (X-Forwarded-For) and cookie jar."""
        address = address or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        return httpx.Client(base_url=self.base, timeout=30, headers={"X-Forwarded-For": address})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def start_server(home: Path, data_dir: Path, url: str, folder: Path, workers: int = 1, **env: str) -> Server:
    port = free_port()
    full = dict(
        os.environ,
        MEDCODE_HOME=str(home),
        MEDCODE_DATA=str(data_dir),
        MEDCODE_DATABASE_URL=url,
        MEDCODE_TRUST_PROXY="on",
        MEDCODE_CACHE_MB="0",
    )
    full.update(env)
    log = folder / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError(f"server stopped: {log.read_text()[-2000:]}")
        try:
            httpx.get(base + "/healthz", timeout=1)
            return Server(base, proc, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


QUOTA_ENV = dict(
    MEDCODE_QUOTAS="on",
    MEDCODE_GUEST_PAGES="1",
    MEDCODE_MEMBER_PAGES="2",
    MEDCODE_RATE_MEMBER="5",
    MEDCODE_RATE_PRO="50",
    MEDCODE_VERIFY_EMAIL="on",
)


@pytest.fixture(scope="module")
def site(
    home: Path,
    data_dir: Path,
    appdb_url: str,  # noqa: F811 (fixture)
    mailbox: tuple[Mailbox, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Mailbox, str]]:
    server = start_server(
        home, data_dir, appdb_url, tmp_path_factory.mktemp("site"), MEDCODE_SMTP_URL=mailbox[1], **QUOTA_ENV
    )
    yield server, mailbox[0], appdb_url
    server.stop()


def email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def member(server: Server, box: Mailbox, address: str | None = None) -> tuple[httpx.Client, str, str]:
    """A new verified member, logged in: (client with the session cookie, e-mail, CSRF token)."""
    c = server.client(address)
    who = email()
    assert c.post("/api/auth/register", json={"email": who, "password": PASSWORD}).status_code == 201
    assert c.post("/api/auth/verify", json={"token": box.token_for(who)}).status_code == 200
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, who, r.json()["csrf_token"]


def calm_minute() -> None:
    """Wait for a fresh minute when too little is left of this one (rate limits count per minute)."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


# --- the whole way: register, verify, log in, quota, key, rate limit, revoke --------------------------------


def test_register_verify_login_quota_key_rate_limit_revoke(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    c = server.client()
    # a guest sees one code page a day; the same page again is open; search, home and static never count
    assert c.get("/codes/20702").status_code == 200
    for free in ("/", "/search?q=bone+marrow", "/static/site.css", "/healthz", "/codes/20702", "/compare"):
        assert c.get(free).status_code == 200, free
    over = c.get("/codes/20703")
    assert over.status_code == 402
    page = over.text
    assert re.search(r'<h1><span class="code">20703</span>', page)  # the code's heading is kept
    assert 'id="top-q"' in page and 'action="/search"' in page and 'id="q"' in page  # and the search boxes
    assert "1 code or compare page a day" in page and 'href="/account/register"' in page
    assert "RVU" not in page and "Global period" not in page  # but no facts of the code
    assert over.headers["cache-control"] == "no-store"
    assert c.get("/codes/20702").status_code == 200  # seen before in this window

    # register; the mail server receives the link; log in only after verifying
    who = email()
    r = c.post("/api/auth/register", json={"email": who, "password": PASSWORD})
    assert r.status_code == 201 and r.json()["verified"] is False and r.json()["mail_sent"] is True
    assert c.post("/api/auth/register", json={"email": who.upper(), "password": PASSWORD}).status_code == 409
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"]["type"] == "unverified"
    token = box.token_for(who)
    assert c.get(f"/account/verify?token={token}").status_code == 200
    assert c.get(f"/account/verify?token={token}").status_code == 400  # single use
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    csrf = r.json()["csrf_token"]
    account = c.get("/api/account").json()
    assert account["email"] == who and account["plan"] == "member" and account["csrf_token"] == csrf
    assert account["quota"] == {
        "on": True,
        "plan": "member",
        "pages": 3,
        "window_seconds": 86400,
        "used": 0,
        "rate_per_minute": 5,
    }

    # the header names the member; a member sees 1 + 2 pages (compare pages count too)
    home = c.get("/").text
    assert who in home and 'action="/account/logout"' in home and "Log in</a>" not in home
    assert c.get("/codes/20702").status_code == 200
    assert c.get("/compare?codes=20702,20703").status_code == 200
    assert c.get("/compare?codes=20703, 20702").status_code == 200  # the same comparison
    r = c.get("/codes/20703")
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
    over = c.get("/codes/20704")
    assert over.status_code == 402 and "Your member plan shows 3 different code or compare pages a day" in over.text
    assert who in over.text  # the header still names the member
    assert c.get("/api/account").json()["quota"]["used"] == 3

    # the API needs a key or a session when quotas are on
    anon = server.client()
    r = anon.get("/api/codes/20702")
    assert r.status_code == 401 and r.json()["error"]["type"] == "auth_required"
    assert anon.get("/api/autocomplete?q=bone").status_code == 200  # the site's search box stays open

    # a key: shown once, stored hashed, 5 requests a minute on the member plan
    assert c.post("/api/keys", json={"name": "script"}).status_code == 403  # no CSRF token
    r = c.post("/api/keys", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    key_id, key = r.json()["id"], r.json()["key"]
    assert key.startswith("mc_") and len(key) > 40
    listed = c.get("/api/keys").json()["data"]
    assert [k["id"] for k in listed] == [key_id] and key not in str(listed) and listed[0]["prefix"] == key[:8]
    keyed = httpx.Client(base_url=server.base, timeout=30, headers={"Authorization": f"Bearer {key}"})
    mine = keyed.get("/api/account")  # a key names its account (and the account calls are not rate counted)
    assert mine.status_code == 200 and mine.json()["email"] == who and mine.json()["csrf_token"] is None
    r = keyed.post("/api/keys", json={"name": "from a key"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "session_required"
    calm_minute()
    answers = [keyed.get("/api/codes/20702") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "5" for a in answers)
    limited = answers[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 60 and limited.json()["error"]["type"] == "rate_limited"
    assert int(limited.headers["x-ratelimit-reset"]) % 60 == 0
    usage = c.get("/api/keys").json()["data"][0]["usage"]
    assert usage and usage[0]["requests"] >= 5

    # revoke: the key is refused at once
    assert c.delete(f"/api/keys/{key_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    r = keyed.get("/api/codes/20702")
    assert r.status_code == 401 and r.json()["error"]["type"] == "bad_key"
    assert c.delete(f"/api/keys/{key_id}", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_keys_and_account_pages_without_javascript(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    c, who, csrf = member(server, box)
    page = c.get("/account")
    assert page.status_code == 200 and who in page.text and "0 of 3 distinct pages this day" in page.text
    assert c.post("/account/keys", data={"name": "from the page"}).status_code == 403  # no csrf field
    made = c.post("/account/keys", data={"name": "from the page", "csrf": csrf})
    assert made.status_code == 201
    key = re.search(r'<code id="new-key">(mc_[^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
    again = c.get("/account/keys").text
    assert key not in again and key[:8] in again and "from the page" in again  # shown once
    key_id = c.get("/api/keys").json()["data"][0]["id"]
    r = c.post(f"/account/keys/{key_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "revoked" in c.get("/account/keys").text
    # change the password from the page, then log in with it
    r = c.post("/account/password", data={"csrf": csrf, "old": PASSWORD, "new": "another password"})
    assert r.status_code == 200 and "The password is changed." in r.text
    fresh = server.client()
    assert fresh.post("/api/auth/login", json={"email": who, "password": "another password"}).status_code == 200
    # log out from the header's form; the session is gone
    r = c.post("/account/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]
    assert c.get("/account", follow_redirects=False).status_code == 303


def test_register_and_login_forms_need_their_double_submit_token(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    c = server.client()
    form = c.get("/account/register").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    who = email()
    r = c.post("/account/register", data={"email": who, "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403
    stranger = server.client()  # a form token without its cookie
    assert (
        stranger.post("/account/register", data={"email": who, "password": PASSWORD, "csrf": token}).status_code == 403
    )
    r = c.post("/account/register", data={"email": who, "password": PASSWORD, "csrf": token})
    assert r.status_code == 201 and "We sent a link" in r.text
    assert c.get(f"/account/verify?token={box.token_for(who)}").status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/account/login").text).group(1)  # type: ignore[union-attr]
    r = c.post("/account/login", data={"email": who, "password": "wrong password", "csrf": token})
    assert r.status_code == 401 and "wrong e-mail or password" in r.text
    r = c.post("/account/login", data={"email": who, "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert who in c.get("/account").text


def test_csrf_refusals_replayed_tokens_and_expired_sessions(site: tuple[Server, Mailbox, str]) -> None:
    server, box, url = site
    c, who, csrf = member(server, box)
    # a session request that changes something needs the session's token
    for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "x" * 43}, {"X-CSRF-Token": "é".encode()}):
        r = c.post("/api/keys", json={"name": "k"}, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["type"] == "csrf"
    # another session of the same account has a token of its own
    other = server.client()
    other_csrf = other.post("/api/auth/login", json={"email": who, "password": PASSWORD}).json()["csrf_token"]
    assert c.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": other_csrf}).status_code == 403
    # a page from another site cannot post at all
    r = c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "cross_site"
    # after logout the old cookie and token are dead; a new session refuses the old token
    old_cookie = c.cookies.get("medcode_session")
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = server.client()
    replay.cookies.set("medcode_session", old_cookie or "")
    r = replay.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401
    assert replay.get("/api/account").status_code == 401
    assert who not in replay.get("/").text  # the header shows "Log in" again
    c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert c.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": csrf}).status_code == 403
    # an expired session is no session
    assert other.get("/api/account").status_code == 200
    with db.engine(url).begin() as conn:
        conn.execute(update(SessionRow).values(expires_at=int(time.time()) - 1))
    assert other.get("/api/account").status_code == 401
    assert other.get("/account", follow_redirects=False).status_code == 303
    r = other.get("/api/codes/20702")
    assert r.status_code == 401 and "session has ended" in r.json()["error"]["message"]


def test_login_answers_the_same_for_unknown_email_and_wrong_password(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    _, who, _ = member(server, box)
    c = server.client()
    unknown = c.post("/api/auth/login", json={"email": email(), "password": PASSWORD})
    wrong = c.post("/api/auth/login", json={"email": who, "password": "not the password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {"error": {"type": "login_failed", "message": "wrong e-mail or password"}}
    assert "set-cookie" not in unknown.headers and "set-cookie" not in wrong.headers
    # a reset request answers the same whether the account exists
    a = c.post("/api/auth/password-reset", json={"email": who})
    b = c.post("/api/auth/password-reset", json={"email": email()})
    assert a.status_code == b.status_code == 202 and a.json() == b.json()
    token = box.token_for(who)
    assert c.post("/api/auth/password-reset/confirm", json={"token": token, "password": "short"}).status_code == 422
    r = c.post("/api/auth/password-reset/confirm", json={"token": token, "password": "a new password"})
    assert r.status_code == 200
    assert c.post("/api/auth/password-reset/confirm", json={"token": token, "password": "x" * 20}).status_code == 400
    assert c.post("/api/auth/login", json={"email": who, "password": "a new password"}).status_code == 200


def test_password_spraying_from_one_address_is_limited(site: tuple[Server, Mailbox, str]) -> None:
    calm_login_window()
    server, box, _ = site
    address = "10.250.0.7"
    _, who, _ = member(server, box)
    c = server.client(address)
    statuses = [c.post("/api/auth/login", json={"email": email(), "password": PASSWORD}).status_code for _ in range(32)]
    assert statuses[:30] == [401] * 30 and statuses[30:] == [429, 429]
    # even the right password of a real account is refused from this address now
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # but from elsewhere the account logs in
    assert server.client().post("/api/auth/login", json={"email": who, "password": PASSWORD}).status_code == 200


def test_guessing_one_account_is_limited(site: tuple[Server, Mailbox, str]) -> None:
    calm_login_window()
    server, box, _ = site
    _, who, _ = member(server, box)
    statuses = [
        server.client().post("/api/auth/login", json={"email": who, "password": f"guess {i}"}).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    assert server.client().post("/api/auth/login", json={"email": who, "password": PASSWORD}).status_code == 429


@pytest.mark.parametrize(
    ("address", "password", "status", "field"),
    [
        ("a" * 300 + "@example.com", PASSWORD, 422, "email"),
        ("no-at-sign.example.com", PASSWORD, 422, "email"),
        ("two@@example.com", PASSWORD, 422, "email"),
        ("with space@example.com", PASSWORD, 422, "email"),
        ("", PASSWORD, 422, "email"),
        (None, "", 422, "password"),
        (None, "short", 422, "password"),
        (None, "x" * 1025, 422, "password"),
    ],
)
def test_bad_registrations(
    site: tuple[Server, Mailbox, str], address: str | None, password: str, status: int, field: str
) -> None:
    server, _, _ = site
    r = server.client().post(
        "/api/auth/register", json={"email": email() if address is None else address, "password": password}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


def test_unicode_email_and_password(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    c = server.client()
    who = f"jürgen.{uuid.uuid4().hex[:6]}@exämple.de"
    password = "пароль 密码 🔑 long enough"
    r = c.post("/api/auth/register", json={"email": who, "password": password})
    assert r.status_code == 201, r.text
    stored = r.json()["email"]
    assert c.post("/api/auth/verify", json={"token": box.token_for(stored)}).status_code == 200
    r = c.post("/api/auth/login", json={"email": who.upper(), "password": password})
    assert r.status_code == 200
    assert stored in c.get("/").text
    # an e-mail address is shown as text, never as markup
    tag = uuid.uuid4().hex[:6]
    hostile = f'"<script>x{tag}</script>"@example.com'
    r = c.post("/api/auth/register", json={"email": hostile, "password": PASSWORD})
    if r.status_code == 201:
        h = server.client()
        assert h.post("/api/auth/verify", json={"token": box.token_for(r.json()["email"])}).status_code == 200
        assert h.post("/api/auth/login", json={"email": hostile, "password": PASSWORD}).status_code == 200
        page = h.get("/codes/20702").text
        assert f"&lt;script&gt;x{tag}" in page and f"<script>x{tag}" not in page
    else:
        assert r.status_code == 422


def test_delete_account_with_its_data(site: tuple[Server, Mailbox, str]) -> None:
    server, box, _ = site
    c, who, csrf = member(server, box)
    key = c.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": csrf}).json()["key"]
    wrong = c.request("DELETE", "/api/account", json={"password": "nope"}, headers={"X-CSRF-Token": csrf})
    assert wrong.status_code == 403
    assert c.request("DELETE", "/api/account", json={"password": PASSWORD}).status_code == 403  # no token
    r = c.request("DELETE", "/api/account", json={"password": PASSWORD}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert c.get("/api/account").status_code == 401
    assert server.client().get("/api/codes/20702", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    again = server.client().post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert again.status_code == 401


def test_admin_changes_a_plan(site: tuple[Server, Mailbox, str], appdb_url: str) -> None:  # noqa: F811
    from medcode.app import accounts

    server, box, _ = site
    admin_email = email()
    accounts.create_user(db.engine(appdb_url), admin_email, PASSWORD, role="admin")
    admin = server.client()
    admin_csrf = admin.post("/api/auth/login", json={"email": admin_email, "password": PASSWORD}).json()["csrf_token"]
    c, who, _ = member(server, box)
    assert c.get("/api/admin/users").status_code == 403
    assert c.get("/admin").status_code == 403
    users = admin.get("/api/admin/users?limit=500").json()["data"]
    target = next(u for u in users if u["email"] == who)
    assert who in admin.get("/admin").text
    r = admin.post(f"/api/admin/users/{target['id']}", json={"plan": "gold"}, headers={"X-CSRF-Token": admin_csrf})
    assert r.status_code == 422
    r = admin.post(f"/admin/users/{target['id']}", data={"csrf": admin_csrf, "role": "member", "plan": "pro"})
    assert r.status_code == 200
    assert c.get("/api/account").json()["quota"]["pages"] is None  # pro: every page
    for code in ("20702", "20703", "20704", "20802", "20805"):
        assert c.get(f"/codes/{code}").status_code == 200


# --- quotas off (a self-hosted install) -----------------------------------------------------------------------


def test_quotas_off_needs_no_key_and_counts_nothing(
    home: Path, data_dir: Path, tmp_path: Path, mailbox: tuple[Mailbox, str]
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"  # no file yet: made at start-up (quotas off)
    server = start_server(home, data_dir, url, tmp_path, MEDCODE_QUOTAS="off", MEDCODE_VERIFY_EMAIL="off")
    try:
        c = server.client()
        for code in ("20702", "20703", "20704", "99213"):
            r = c.get(f"/codes/{code}")
            assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
        assert c.get("/compare?codes=20702,20703").status_code == 200
        assert c.get("/api/codes/20702").status_code == 200
        bogus = c.get("/api/codes/20702", headers={"Authorization": "Bearer mc_not_a_key"})
        assert bogus.status_code == 200 and "x-ratelimit-limit" not in bogus.headers  # ignored when off
        assert 'Log in</a> / <a href="/account/register">Register</a>' in c.get("/codes/20702").text
        # accounts still work (no verification mail: MEDCODE_VERIFY_EMAIL=off)
        who = email()
        r = c.post("/api/auth/register", json={"email": who, "password": PASSWORD})
        assert r.status_code == 201 and r.json()["verified"] is True
        assert c.post("/api/auth/login", json={"email": who, "password": PASSWORD}).status_code == 200
        page = c.get("/codes/20702")
        assert who in page.text and page.headers["cache-control"] == "private, no-cache"
        assert c.get("/api/account").json()["quota"]["on"] is False
    finally:
        server.stop()


def test_serve_refuses_an_unmigrated_database(home: Path, data_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = db.engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")  # a file exists, not migrated
    env = dict(os.environ, MEDCODE_HOME=str(home), MEDCODE_DATA=str(data_dir), MEDCODE_DATABASE_URL=url)
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "medcode db upgrade" in r.stderr


# --- two workers share the counts -------------------------------------------------------------------------------


def test_quota_and_rate_limit_hold_across_two_workers(
    home: Path,
    data_dir: Path,
    appdb_url: str,  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    server = start_server(
        home,
        data_dir,
        appdb_url,
        tmp_path,
        workers=2,
        MEDCODE_QUOTAS="on",
        MEDCODE_GUEST_PAGES="3",
        MEDCODE_RATE_MEMBER="20",
        MEDCODE_VERIFY_EMAIL="off",
    )
    try:
        c = server.client()
        who = email()
        assert c.post("/api/auth/register", json={"email": who, "password": PASSWORD}).status_code == 201
        csrf = c.post("/api/auth/login", json={"email": who, "password": PASSWORD}).json()["csrf_token"]
        key = c.post("/api/keys", json={"name": "load"}, headers={"X-CSRF-Token": csrf}).json()["key"]
        calm_minute()

        def keyed(_: int) -> int:  # a new connection each time: the two workers both take requests
            return httpx.get(
                server.base + "/api/codes/20702", headers={"Authorization": f"Bearer {key}"}, timeout=30
            ).status_code

        def guest_page(code: str) -> int:
            return httpx.get(
                server.base + f"/codes/{code}", headers={"X-Forwarded-For": "10.9.9.9"}, timeout=60
            ).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(keyed, range(60)))
            codes = ["20702", "20703", "20704", "20802", "20805", "20808", "20816", "20822", "20824", "20827"]
            pages = list(pool.map(guest_page, codes))
        assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses
        assert pages.count(200) == 3 and pages.count(402) == 7, pages
        # a key revoked through one worker is refused at once by both (each had kept its owner)
        second = c.post("/api/keys", json={"name": "second"}, headers={"X-CSRF-Token": csrf}).json()

        def keyed2(_: int) -> int:
            return httpx.get(
                server.base + "/api/codes/20702", headers={"Authorization": f"Bearer {second['key']}"}, timeout=30
            ).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(keyed2, range(8))) == {200}
        assert c.delete(f"/api/keys/{second['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
        with ThreadPoolExecutor(4) as pool:
            after = list(pool.map(keyed2, range(16)))
        assert after == [401] * 16, after
    finally:
        server.stop()
