"""Counters in the application database: API key rate limits, page quotas and failed logins.

Every count is one atomic statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) or is taken under a
database lock, never in process memory, so limits hold across threads, server workers and servers.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, TextClause, and_, case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from medcode.app.models import KeyMinute, LoginFailure, PageView

KEY_DAYS_KEPT = 35  # usage per key per day is shown for 30 days
LOGIN_WINDOW = 900  # seconds: failed logins are counted in 15-minute windows
PATH_MAX = 300  # characters of a page path kept in page_views
PRUNE_EVERY = 60.0  # seconds between prunes of one table, per process

_pruned: dict[tuple[str, str], float] = {}
_prune_lock = threading.Lock()


@dataclass(frozen=True)
class RateResult:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # when this minute's count starts again (for Retry-After and X-RateLimit-Reset)

    def retry_after(self, now: float) -> int:
        return max(1, self.reset_epoch - int(now))


@dataclass(frozen=True)
class QuotaResult:
    allowed: bool
    used: int  # distinct counted pages in this window (after this one, when allowed)
    limit: int | None  # None: unlimited


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


@functools.cache
def _upsert(table: str, keys: tuple[str, ...]) -> TextClause:
    """``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count``: the same text in SQLite (3.35
    or newer) and PostgreSQL, written once (twice as fast as building the construct on every request)."""
    cols = ", ".join(f'"{k}"' for k in keys)  # quoted: `window` is a reserved word in PostgreSQL
    binds = ", ".join(f":{k}" for k in keys)
    return text(
        f'INSERT INTO "{table}" ({cols}, "count") VALUES ({binds}, 1) '
        f'ON CONFLICT ({cols}) DO UPDATE SET "count" = "{table}"."count" + 1 RETURNING "count"'
    )


def _increment(conn: Connection, table: Table, keys: dict[str, Any]) -> int:
    """Add one to the ``count`` of the row with these primary key values (made at 1); the new count."""
    return int(conn.execute(_upsert(table.name, tuple(keys)), keys).scalar_one())


_LIVE_KEY = text(
    'INSERT INTO "key_minutes" ("key_id", "minute", "count") '
    "SELECT CAST(:key_id AS INTEGER), CAST(:minute AS BIGINT), 1 "
    'WHERE EXISTS (SELECT 1 FROM "api_keys" WHERE "id" = :key_id AND "revoked_at" IS NULL) '
    'ON CONFLICT ("key_id", "minute") DO UPDATE SET "count" = "key_minutes"."count" + 1 RETURNING "count"'
)
_FAST_COMMIT = text("SET LOCAL synchronous_commit = off")


def hit_live_key(db: Engine, key_id: int, limit: int, now: float | None = None) -> RateResult | None:
    """Count one request of a key in this minute, in one statement that counts only while the key is live;
    None when it is revoked or its account deleted (so a key revoked by any server worker is refused at once
    by all of them). On PostgreSQL the counter's commit does not wait for the disk: a crash may lose the last
    fraction of a second of counts, never corrupt them."""
    now = time.time() if now is None else now
    minute = int(now) // 60
    with db.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(_FAST_COMMIT)
        count = conn.execute(_LIVE_KEY, {"key_id": key_id, "minute": minute}).scalar_one_or_none()
    if count is None:
        return None
    table = KeyMinute.__table__
    assert isinstance(table, Table)
    _maybe_prune(
        db, "key_minutes", now, lambda c: c.execute(delete(table).where(table.c.minute < minute - KEY_DAYS_KEPT * 1440))
    )
    return RateResult(int(count) <= limit, limit, max(0, limit - int(count)), (minute + 1) * 60)


def key_minute_count(db: Engine, key_id: int, now: float | None = None) -> int:
    """Requests of a key counted in the minute of ``now``."""
    minute = int(time.time() if now is None else now) // 60
    with db.connect() as conn:
        found = conn.execute(
            select(KeyMinute.count).where(KeyMinute.key_id == key_id, KeyMinute.minute == minute)
        ).scalar_one_or_none()
    return int(found or 0)


def view_page(db: Engine, subject: str, path: str, allowed: int | None, window: int) -> QuotaResult:
    """Record that ``subject`` viewed a counted page in quota window number ``window``
    (:func:`medcode.app.plans.window_of`). A page seen before in the window is always allowed again; a new
    one is refused, and not recorded, when ``allowed`` distinct pages were already seen."""
    table = PageView.__table__
    assert isinstance(table, Table)
    if len(path) > PATH_MAX:  # a path longer than the column is kept as its hash
        path = "#" + hashlib.sha256(path.encode()).hexdigest()
    key = {"subject": subject, "window": window, "path": path}
    mine = and_(table.c.subject == subject, table.c.window == window)
    with db.connect() as conn:  # the common case without a lock: a page seen before, or nothing to count
        row = conn.execute(
            select(func.count(), func.coalesce(func.max(case((table.c.path == path, 1), else_=0)), 0)).where(mine)
        ).one()
        used, seen = int(row[0]), int(row[1])
    if seen:
        return QuotaResult(True, used, allowed)
    if allowed is not None and used >= allowed:
        return QuotaResult(False, used, allowed)
    with db.connect() as conn:
        conn = conn.execution_options(immediate=True)  # SQLite: BEGIN IMMEDIATE takes the write lock
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:a, :b)"),
                    {"a": _int32(subject), "b": window % (2**31)},
                )
            used = int(conn.execute(select(func.count()).select_from(table).where(mine)).scalar_one())
            seen = conn.execute(select(func.count()).select_from(table).where(mine, table.c.path == path)).scalar_one()
            if not seen and allowed is not None and used >= allowed:
                return QuotaResult(False, used, allowed)
            if not seen:
                conn.execute(_insert(conn, table).values(**key).on_conflict_do_nothing())
                used += 1
    _maybe_prune(db, "page_views", time.time(), lambda c: c.execute(delete(table).where(table.c.window < window - 1)))
    return QuotaResult(True, used, allowed)


def pages_used(db: Engine, subject: str, window: int) -> int:
    """Distinct counted pages ``subject`` saw in window number ``window``."""
    with db.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(PageView).where(PageView.subject == subject, PageView.window == window)
            ).scalar_one()
        )


def login_failures(db: Engine, subjects: list[str], now: float | None = None) -> dict[str, int]:
    """Failed logins of each subject (``e:<email>``, ``a:<address hash>``) in this 15-minute window."""
    window = int(time.time() if now is None else now) // LOGIN_WINDOW
    with db.connect() as conn:
        rows = conn.execute(
            select(LoginFailure.subject, LoginFailure.count).where(
                LoginFailure.subject.in_(subjects), LoginFailure.window == window
            )
        ).all()
    found = {str(s): int(c) for s, c in rows}
    return {s: found.get(s, 0) for s in subjects}


def add_login_failure(db: Engine, subjects: list[str], now: float | None = None) -> dict[str, int]:
    """Count one failed login for each subject; the new counts."""
    now = time.time() if now is None else now
    window = int(now) // LOGIN_WINDOW
    table = LoginFailure.__table__
    assert isinstance(table, Table)
    with db.begin() as conn:
        counts = {s: _increment(conn, table, {"subject": s, "window": window}) for s in subjects}
    _maybe_prune(db, "login_failures", now, lambda c: c.execute(delete(table).where(table.c.window < window - 1)))
    return counts


def login_window_end(now: float) -> int:
    return (int(now) // LOGIN_WINDOW + 1) * LOGIN_WINDOW


def _int32(text_value: str) -> int:
    """A signed 32-bit number for a string (the first key of a PostgreSQL advisory lock)."""
    value = zlib.crc32(text_value.encode())
    return value - 2**32 if value >= 2**31 else value


def _maybe_prune(db: Engine, table: str, now: float, work: Any) -> None:
    """Run ``work(connection)`` (a delete of old rows) at most once a minute per process and table."""
    mark = (str(db.url), table)
    with _prune_lock:
        if now - _pruned.get(mark, 0.0) < PRUNE_EVERY:
            return
        _pruned[mark] = now
    with db.begin() as conn:
        work(conn)
