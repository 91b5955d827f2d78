"""The application database in tests: ``appdb_url`` (SQLite, and PostgreSQL when MEDCODE_TEST_DATABASE_URL names a
server), ``fresh_database`` (an empty database, dropped after) and ``hammer`` (a counter load for other processes).

Import the fixture into a test module with ``from appdb_fixtures import appdb_url  # noqa: F401``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from medcode.app import db

PG_ENV = "MEDCODE_TEST_DATABASE_URL"  # e.g. postgresql://postgres@127.0.0.1:54329/medcode_test (.ci/run)
REQUIRE_ENV = "MEDCODE_REQUIRE_POSTGRES"  # 1: no PostgreSQL is a failure, not a skip
FIXED_NOW = 1_000_000 * 60.0  # the minute the key hammer counts in (no minute boundary mid-test)


def postgres_base() -> str | None:
    """The PostgreSQL server to make test databases in, or None (the test is skipped, or fails when required)."""
    url = os.environ.get(PG_ENV, "").strip()
    if url:
        return url
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {PG_ENV} is not set: the PostgreSQL tests cannot run")
    return None


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database (never migrated) of ``kind`` sqlite or postgresql, dropped after."""
    name = "medcode_t_" + uuid.uuid4().hex[:12]
    if kind == "sqlite":
        url = f"sqlite:///{folder / (name + '.db')}"
        try:
            yield url
        finally:
            _dispose(url)
        return
    base = postgres_base()
    if base is None:
        pytest.skip(f"no PostgreSQL: set {PG_ENV}")
    import psycopg

    admin = make_url(db.database_url(_Conf(base)))
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _dispose(url)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Conf:
    def __init__(self, url: str) -> None:
        self.database_url = url
        self.home = Path(".")


def _dispose(url: str) -> None:
    eng = db._ENGINES.pop(url, None)
    if eng is not None:
        eng.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def appdb_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated application database, fresh for each test module: SQLite, then PostgreSQL (skipped without
    MEDCODE_TEST_DATABASE_URL; failed when MEDCODE_REQUIRE_POSTGRES=1)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("appdb")) as url:
        db.upgrade(url)
        yield url


def hammer(url: str, what: str, arg: str, limit: int, threads: int, each: int) -> int:
    """From ``threads`` threads, ``each`` calls of a counter (``key``: hit_live_key of key id ``arg``; ``page``: a new
    page for subject ``arg`` in window 1) against ``limit``; the number allowed (run in other processes)."""
    from medcode.app import limits

    eng = db.engine(url)
    allowed = 0
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            count(t)
        except BaseException as exc:  # a thread's error fails the process, not just the thread
            errors.append(exc)

    def count(t: int) -> None:
        nonlocal allowed
        barrier.wait()
        mine = 0
        for i in range(each):
            if what == "key":
                ok = limits.hit_live_key(eng, int(arg), limit, FIXED_NOW).allowed
            else:
                ok = limits.view_page(eng, arg, f"/code/{os.getpid()}-{t}-{i}", limit, 1).allowed
            mine += ok
        with lock:
            allowed += mine

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    if errors:
        raise errors[0]
    return allowed


if __name__ == "__main__":  # python appdb_fixtures.py URL key|page ARG LIMIT THREADS EACH
    print(hammer(sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])))


def calm_login_window(margin: float = 60.0) -> None:
    """Wait for a fresh failed-login window when less than ``margin`` seconds are left of this one (failed
    logins are counted in fixed windows of ``limits.LOGIN_WINDOW`` seconds; a test of the limit must not
    straddle two)."""
    from medcode.app import limits

    left = limits.LOGIN_WINDOW - time.time() % limits.LOGIN_WINDOW
    if left < margin:
        time.sleep(left + 1)
