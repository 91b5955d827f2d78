"""The application database (medcode.app) on SQLite and on PostgreSQL: migrations, accounts, sessions, tokens,
API keys and the counters, which must stay exact under threads and several processes."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from appdb_fixtures import FIXED_NOW, PG_ENV, appdb_url, calm_login_window, fresh_database  # noqa: F401
from sqlalchemy import Engine, func, inspect, select, update

from medcode import settings
from medcode.app import accounts, db, keys, limits, mail, plans
from medcode.app.models import ApiKey, EmailToken, KeyMinute, LoginFailure, PageView, SessionRow, User

TESTS = Path(__file__).parent
KINDS = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery"


def _email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


@pytest.fixture()
def eng(appdb_url: str) -> Engine:  # noqa: F811
    return db.engine(appdb_url)


@pytest.fixture()
def member(eng: Engine) -> User:
    return accounts.register(eng, _email(), PASSWORD, verified=True)


def _count(eng: Engine, model: type, *where: object) -> int:
    with eng.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


# --- the database and its migrations ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_migration_from_empty_and_not_migrated(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        assert db.revision(url) is None and not db.current(url)
        with pytest.raises(db.NotMigrated) as caught:
            db.require_current(url)
        assert "medcode db upgrade" in str(caught.value)
        assert db.upgrade(url) == db.head() and db.current(url)
        db.require_current(url)
        assert db.upgrade(url) == db.head()  # a second run changes nothing
        names = set(inspect(db.engine(url)).get_table_names())
        wanted = {"users", "sessions", "email_tokens", "api_keys", "key_minutes", "page_views", "login_failures"}
        assert wanted <= names


def test_missing_sqlite_file_is_not_made_by_a_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'app.db'}"
    assert not db.current(url)
    assert not (tmp_path / "sub").exists()


def test_database_url_and_safe_url(tmp_path: Path) -> None:
    conf = settings.load({"MEDCODE_HOME": str(tmp_path)})
    assert db.database_url(conf) == f"sqlite:///{tmp_path / 'app.db'}"
    conf = settings.load({"MEDCODE_HOME": str(tmp_path), "MEDCODE_DATABASE_URL": "postgresql://u:pw@h:5/d"})
    url = db.database_url(conf)
    assert url == "postgresql+psycopg://u:pw@h:5/d"
    assert "pw" not in db.safe_url(url) and "u:***@h:5/d" in db.safe_url(url)
    message = str(db.NotMigrated(url, None, "0001_accounts"))
    assert "pw" not in message and "medcode db upgrade" in message


# --- settings and plans -----------------------------------------------------------------------------------


def test_plans_and_windows_from_settings() -> None:
    conf = settings.load({})
    assert not conf.quotas and conf.verify_email and conf.quota_window == 86400
    p = plans.plans(conf)
    assert (p["guest"].pages, p["member"].pages, p["pro"].pages) == (1, 6, None)
    assert (p["guest"].rate_per_minute, p["member"].rate_per_minute, p["pro"].rate_per_minute) == (0, 60, 600)
    conf = settings.load({"MEDCODE_GUEST_PAGES": "2", "MEDCODE_MEMBER_PAGES": "3", "MEDCODE_QUOTA_WINDOW": "12h"})
    assert plans.plans(conf)["member"].pages == 5 and plans.window_seconds(conf) == 43200
    assert [settings.duration("X", t) for t in ("45s", "30m", "2h", "1d", "90")] == [45, 1800, 7200, 86400, 90]
    for bad in ({"MEDCODE_QUOTA_WINDOW": "1w"}, {"MEDCODE_QUOTAS": "sometimes"}, {"MEDCODE_GUEST_PAGES": "-1"}):
        with pytest.raises(settings.SettingError, match=next(iter(bad))):
            settings.load(bad)
    assert settings.load({"MEDCODE_PUBLIC_URL": "https://x.example/"}).secure_cookies
    assert not settings.load({"MEDCODE_PUBLIC_URL": "http://x.example"}).secure_cookies


# --- accounts ---------------------------------------------------------------------------------------------


def test_register_normalises_and_refuses_bad_input(eng: Engine) -> None:
    tag = uuid.uuid4().hex[:8]
    user = accounts.register(eng, f"  Zoë.{tag}@Bücher.Example ", PASSWORD, verified=False)
    assert user.email == f"zoë.{tag}@bücher.example" and not user.verified
    assert user.role == "member" and user.plan == "member"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with pytest.raises(accounts.AccountExists):
        accounts.register(eng, f"ZOË.{tag}@BÜCHER.example", PASSWORD, verified=False)
    bad_emails = ["", "no-at-sign", "a@@b.org", "two@at@b.org", "sp ace@b.org", "a@nodot", "a@-b.org", "a@b..org"]
    bad_emails += ["x" * 250 + "@b.org", "a" * 300, "a\x00@b.org", "a@b_c.org"]
    for bad in bad_emails:
        with pytest.raises(accounts.AccountError) as caught:
            accounts.register(eng, bad, PASSWORD, verified=True)
        assert caught.value.field == "email", bad
    for bad_pw in ["", "short", "x" * 1025]:
        with pytest.raises(accounts.AccountError) as caught:
            accounts.register(eng, _email(), bad_pw, verified=True)
        assert caught.value.field == "password"
    assert accounts.register(eng, _email(), "пароль-密码-🔑", verified=True).id > 0


def test_authenticate_same_answer_and_limits(eng: Engine) -> None:
    calm_login_window()
    email = _email()
    user = accounts.register(eng, email, PASSWORD, verified=False)
    address = "198.51.100." + str(uuid.uuid4().int % 250)
    found = accounts.authenticate(eng, email.upper(), PASSWORD, address)
    assert found is not None and found.id == user.id and not found.verified  # the caller decides about verified
    assert accounts.authenticate(eng, email, "wrong password", address) is None
    assert accounts.authenticate(eng, _email("nobody"), PASSWORD, address) is None
    assert accounts.authenticate(eng, "not an e-mail", PASSWORD, address) is None
    assert accounts.authenticate(eng, email, PASSWORD + "x" * 2000, address) is None  # too long: never right
    for _ in range(accounts.ACCOUNT_FAILURES - 2):  # two failures above
        assert accounts.authenticate(eng, email, "wrong again", "203.0.113.9") is None
    with pytest.raises(accounts.LoginLimited) as caught:  # 10 failures: even the right password is refused
        accounts.authenticate(eng, email, PASSWORD, "203.0.113.10")
    assert 1 <= caught.value.retry_after <= limits.LOGIN_WINDOW


def test_password_spraying_from_one_address_is_limited(eng: Engine) -> None:
    calm_login_window()
    address = "192.0.2." + str(uuid.uuid4().int % 250)
    victim = accounts.register(eng, _email("victim"), PASSWORD, verified=True)
    for i in range(accounts.ADDRESS_FAILURES):
        assert accounts.authenticate(eng, _email(f"spray{i}"), "Winter2026!", address) is None
    with pytest.raises(accounts.LoginLimited):
        accounts.authenticate(eng, victim.email, PASSWORD, address)
    assert accounts.authenticate(eng, victim.email, PASSWORD, "192.0.2.251") is not None  # another address


def test_sessions_expire_and_end(eng: Engine, member: User) -> None:
    token, csrf = accounts.create_session(eng, member)
    found = accounts.session_user(eng, token)
    assert found is not None and found[0].id == member.id and found[1] == csrf
    assert accounts.session_user(eng, token + "x") is None and accounts.session_user(eng, "") is None
    assert _count(eng, SessionRow, SessionRow.id == token) == 0  # only the hash is stored
    other, _ = accounts.create_session(eng, member)
    with eng.begin() as conn:
        conn.execute(update(SessionRow).values(expires_at=int(time.time()) - 1).where(SessionRow.user_id == member.id))
    assert accounts.session_user(eng, token) is None and accounts.session_user(eng, other) is None
    fresh, _ = accounts.create_session(eng, member)
    accounts.end_session(eng, fresh)
    assert accounts.session_user(eng, fresh) is None


def test_mail_tokens_are_single_use_and_expire(eng: Engine) -> None:
    user = accounts.register(eng, _email(), PASSWORD, verified=False)
    token = accounts.make_token(eng, user, "verify")
    assert accounts.use_token(eng, token, "reset") is None  # wrong purpose
    spent = accounts.use_token(eng, token, "verify")
    assert spent is not None and spent.verified
    assert accounts.use_token(eng, token, "verify") is None  # replayed
    late = accounts.make_token(eng, user, "reset")
    with eng.begin() as conn:
        conn.execute(update(EmailToken).values(expires_at=int(time.time()) - 1).where(EmailToken.user_id == user.id))
    assert accounts.use_token(eng, late, "reset") is None
    with pytest.raises(accounts.AccountError):
        accounts.make_token(eng, user, "other")


def test_reset_and_change_password(eng: Engine) -> None:
    user = accounts.register(eng, _email(), PASSWORD, verified=False)
    s1, _ = accounts.create_session(eng, user)
    token = accounts.make_token(eng, user, "reset")
    with pytest.raises(accounts.AccountError):
        accounts.reset_password(eng, token, "short")
    assert accounts.reset_password(eng, token, "a new password 1") is not None
    assert accounts.reset_password(eng, token, "a new password 2") is None  # used
    assert accounts.session_user(eng, s1) is None
    assert accounts.authenticate(eng, user.email, PASSWORD, "a1") is None
    again = accounts.authenticate(eng, user.email, "a new password 1", "a1")
    assert again is not None and again.verified
    keep, _ = accounts.create_session(eng, user)
    drop, _ = accounts.create_session(eng, user)
    assert not accounts.change_password(eng, user, "wrong old", "another password")
    with pytest.raises(accounts.AccountError):
        accounts.change_password(eng, user, "a new password 1", "")
    assert accounts.change_password(eng, user, "a new password 1", "another password", keep_token=keep)
    assert accounts.session_user(eng, keep) is not None and accounts.session_user(eng, drop) is None
    assert accounts.authenticate(eng, user.email, "another password", "a1") is not None


def test_roles_plans_and_listing(eng: Engine, member: User) -> None:
    changed = accounts.set_role(eng, member.id, "admin")
    assert changed is not None and changed.role == "admin"
    changed = accounts.set_plan(eng, member.id, "pro")
    assert changed is not None and changed.plan == "pro"
    assert accounts.set_plan(eng, 10**9, "pro") is None
    with pytest.raises(accounts.AccountError):
        accounts.set_role(eng, member.id, "emperor")
    with pytest.raises(accounts.AccountError):
        accounts.set_plan(eng, member.id, "gold")
    admin = accounts.create_user(eng, _email("admin"), PASSWORD, "admin", "pro")
    assert admin.verified and admin.role == "admin"
    listed = accounts.list_users(eng, 0, 1000)
    assert {member.id, admin.id} <= {u.id for u in listed} and accounts.count_users(eng) == len(listed)
    assert [u.id for u in listed] == sorted(u.id for u in listed)
    assert len(accounts.list_users(eng, 1, 1)) == 1


def test_delete_account_removes_its_data(eng: Engine) -> None:
    user = accounts.register(eng, _email(), PASSWORD, verified=True)
    other = accounts.register(eng, _email(), PASSWORD, verified=True)
    accounts.create_session(eng, user)
    accounts.make_token(eng, user, "reset")
    key_id, key = keys.create_key(eng, user, "k")
    limits.hit_live_key(eng, key_id, 10)
    limits.view_page(eng, f"u:{user.id}", "/code/99213", 5, 7)
    other_key, _ = keys.create_key(eng, other, "k")
    limits.view_page(eng, f"u:{other.id}", "/code/99213", 5, 7)
    assert not accounts.delete_account(eng, user, "wrong password")
    assert accounts.delete_account(eng, user, PASSWORD)
    assert accounts.get_user(eng, user.id) is None and keys.key_owner(eng, key) is None
    for model, column in ((SessionRow, SessionRow.user_id), (EmailToken, EmailToken.user_id), (ApiKey, ApiKey.user_id)):
        assert _count(eng, model, column == user.id) == 0
    assert _count(eng, KeyMinute, KeyMinute.key_id == key_id) == 0
    assert _count(eng, PageView, PageView.subject == f"u:{user.id}") == 0
    assert _count(eng, PageView, PageView.subject == f"u:{other.id}") == 1
    assert _count(eng, ApiKey, ApiKey.id == other_key) == 1


# --- API keys ---------------------------------------------------------------------------------------------


def test_keys_create_list_revoke(eng: Engine, member: User) -> None:
    key_id, key = keys.create_key(eng, member, "  my script ")
    assert key.startswith("mc_") and len(key) > 40
    assert _count(eng, ApiKey, ApiKey.key_hash == key) == 0  # stored hashed
    owner = keys.key_owner(eng, key)
    assert owner is not None and owner[0] == key_id and owner[1].id == member.id
    assert keys.key_owner(eng, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.key_owner(eng, "") is None and keys.key_owner(eng, "Bearer " + key) is None
    for _ in range(3):
        limits.hit_live_key(eng, key_id, 60)
    limits.hit_live_key(eng, key_id, 60, time.time() - 86400)  # yesterday
    (info,) = [k for k in keys.list_keys(eng, member) if k.id == key_id]
    assert info.name == "my script" and info.prefix == key[:8] and not info.revoked
    assert info.today == 3 and sum(n for _, n in info.usage) == 4 and len(info.usage) == 2
    other = accounts.register(eng, _email(), PASSWORD, verified=True)
    assert not keys.revoke_key(eng, other, key_id)  # not theirs
    assert keys.revoke_key(eng, member, key_id) and not keys.revoke_key(eng, member, key_id)
    assert keys.key_owner(eng, key) is None
    assert keys.list_keys(eng, member)[0].revoked
    with pytest.raises(accounts.AccountError):
        keys.create_key(eng, member, "x" * 101)


def test_hit_live_key_counts_per_minute(eng: Engine, member: User) -> None:
    key_id, _ = keys.create_key(eng, member, "rate")
    now = 1_700_000_010.0
    results = [limits.hit_live_key(eng, key_id, 3, now) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0, 0]
    assert results[0].reset_epoch == 1_700_000_040 and results[0].retry_after(now) == 30
    again = limits.hit_live_key(eng, key_id, 3, now + 60)
    assert again is not None and again.allowed  # the next minute starts again
    assert limits.key_minute_count(eng, key_id, now) == 5


def test_hit_live_key_counts_only_a_live_key(eng: Engine, member: User) -> None:
    key_id, _ = keys.create_key(eng, member, "live")
    now = 1_700_000_010.0
    results = [limits.hit_live_key(eng, key_id, 2, now) for _ in range(3)]
    assert [r.allowed if r else None for r in results] == [True, True, False]
    assert limits.key_minute_count(eng, key_id, now) == 3
    assert keys.revoke_key(eng, member, key_id)
    assert limits.hit_live_key(eng, key_id, 2, now) is None  # revoked: refused and not counted
    assert limits.key_minute_count(eng, key_id, now) == 3
    assert limits.hit_live_key(eng, 10**9, 2, now) is None  # no such key


def test_view_page_quota(eng: Engine) -> None:
    subject = "a:" + uuid.uuid4().hex
    got = [limits.view_page(eng, subject, p, 2, 100) for p in ["/code/a", "/code/b", "/code/a", "/code/c"]]
    assert [(q.allowed, q.used) for q in got] == [(True, 1), (True, 2), (True, 2), (False, 2)]
    assert _count(eng, PageView, PageView.subject == subject, PageView.path == "/code/c") == 0  # not recorded
    assert limits.view_page(eng, subject, "/code/c", 2, 101).allowed  # a new window
    assert limits.pages_used(eng, subject, 100) == 2 and limits.pages_used(eng, subject, 101) == 1
    assert limits.view_page(eng, subject, "/code/z", 0, 102).allowed is False
    long_path = "/code/" + "é" * 400
    assert (
        limits.view_page(eng, subject, long_path, 1, 104).allowed
        and limits.view_page(eng, subject, long_path, 1, 104).allowed
    )
    unlimited = [limits.view_page(eng, subject, f"/code/{i}", None, 103) for i in range(4)]
    assert all(q.allowed for q in unlimited) and unlimited[-1].used == 4 and unlimited[-1].limit is None


def test_login_failure_counters_and_pruning(eng: Engine) -> None:
    subjects = ["e:" + _email(), "a:" + uuid.uuid4().hex]
    now = time.time()
    assert limits.login_failures(eng, subjects, now) == {s: 0 for s in subjects}
    limits.add_login_failure(eng, subjects, now)
    assert limits.add_login_failure(eng, subjects, now) == {s: 2 for s in subjects}
    assert limits.login_failures(eng, subjects, now + limits.LOGIN_WINDOW) == {s: 0 for s in subjects}
    limits._pruned.clear()
    limits.add_login_failure(eng, subjects[:1], now + 3 * limits.LOGIN_WINDOW)  # prunes windows 2 back
    assert _count(eng, LoginFailure, LoginFailure.subject == subjects[1]) == 0


# --- counters under load: threads and two processes ------------------------------------------------------


def _processes(url: str, what: str, arg: str, limit: int, threads: int = 8, each: int = 15) -> list[int]:
    cmd = [sys.executable, str(TESTS / "appdb_fixtures.py"), url, what, arg, str(limit), str(threads), str(each)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    return [int(o.strip()) for o in outs]


def test_key_counter_exact_across_threads_and_processes(appdb_url: str, eng: Engine, member: User) -> None:  # noqa: F811
    key_id, _ = keys.create_key(eng, member, "load")
    allowed = _processes(appdb_url, "key", str(key_id), 100)  # 2 x 8 x 15 = 240 requests
    assert sum(allowed) == 100
    assert limits.key_minute_count(eng, key_id, FIXED_NOW) == 240
    key2, _ = keys.create_key(eng, member, "load2")
    assert sum(_processes(appdb_url, "key", str(key2), 10**6)) == 240


def test_page_quota_exact_across_threads_and_processes(appdb_url: str, eng: Engine) -> None:  # noqa: F811
    subject = "a:" + uuid.uuid4().hex
    allowed = _processes(appdb_url, "page", subject, 5, each=4)
    assert sum(allowed) == 5
    assert limits.pages_used(eng, subject, 1) == 5


# --- mail -------------------------------------------------------------------------------------------------


def test_mail_without_server_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    conf = settings.load({})
    with caplog.at_level(logging.WARNING, logger="medcode.mail"):
        mail.send(conf, "a@example.org", "Verify your e-mail", "Open http://x/account/verify?token=abc")
    assert "token=abc" in caplog.text and "Verify your e-mail" in caplog.text


def test_mail_over_smtp() -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        got: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201
            Keep.got.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        conf = settings.load({"MEDCODE_SMTP_URL": f"smtp://127.0.0.1:{port}", "MEDCODE_MAIL_FROM": "site@example.org"})
        mail.send(conf, "ann@example.org", "Reset your password", "Open http://x/account/reset/confirm?token=xyz")
    finally:
        controller.stop()
    (message,) = Keep.got
    assert b"token=xyz" in message and b"From: site@example.org" in message and b"Subject: Reset" in message
    dead = settings.load({"MEDCODE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    with pytest.raises(mail.MailError):
        mail.send(dead, "ann@example.org", "x", "y")


# --- the commands ----------------------------------------------------------------------------------------


def _medcode(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medcode.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize("kind", KINDS)
def test_db_and_admin_commands(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        env = dict(os.environ, MEDCODE_HOME=str(tmp_path), MEDCODE_DATABASE_URL=url.replace("+psycopg", ""))
        done = _medcode(["db", "current"], env)
        assert done.returncode == 1 and "(none)" in done.stdout and "medcode db upgrade" in done.stdout
        done = _medcode(["admin", "set-role", "a@example.org", "admin"], env)
        assert done.returncode == 2 and "medcode db upgrade" in done.stderr
        done = _medcode(["db", "upgrade"], env)
        assert done.returncode == 0 and db.head() in done.stdout
        assert _medcode(["db", "current"], env).returncode == 0
        done = _medcode(
            ["admin", "create-user", "Boss@Example.org", "--role", "admin", "--password-stdin"], env, PASSWORD
        )
        assert done.returncode == 0 and "boss@example.org" in done.stdout, done.stderr
        done = _medcode(["admin", "create-user", "boss@example.org", "--password-stdin"], env, PASSWORD)
        assert done.returncode == 2 and "exists" in done.stderr
        done = _medcode(["admin", "create-user", "x@example.org", "--password-stdin"], env, "short\n")
        assert done.returncode == 2 and "password" in done.stderr
        assert _medcode(["admin", "set-plan", "BOSS@example.org", "pro"], env).returncode == 0
        assert _medcode(["admin", "set-role", "nobody@example.org", "admin"], env).returncode == 1
        user = accounts.authenticate(db.engine(url), "boss@example.org", PASSWORD, "cli")
        assert user is not None and (user.role, user.plan, user.verified) == ("admin", "pro", True)


def test_serve_refuses_an_unmigrated_database(home: Path, tmp_path: Path) -> None:
    env = dict(os.environ, MEDCODE_HOME=str(home), MEDCODE_QUOTAS="on")
    env["MEDCODE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    done = _medcode(["serve", "--port", "1"], env)  # quotas on: a missing database is not made
    assert done.returncode == 2 and "medcode db upgrade" in done.stderr and not (tmp_path / "app.db").exists()
    with fresh_database("postgresql" if os.environ.get(PG_ENV) else "sqlite", tmp_path) as url:
        if url.startswith("sqlite"):
            db.engine(url).connect().close()  # an existing, empty file
        env.update(MEDCODE_DATABASE_URL=url, MEDCODE_QUOTAS="off")
        done = _medcode(["serve", "--port", "1"], env)
        assert done.returncode == 2 and "not migrated" in done.stderr
