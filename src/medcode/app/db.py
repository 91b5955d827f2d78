"""The application database: accounts, sessions, API keys and usage (apart from the read-only knowledge base).

SQLite in MEDCODE_HOME by default, PostgreSQL when MEDCODE_DATABASE_URL names one. The schema is kept by
Alembic migrations in ``medcode/app/migrations`` (run by ``medcode db upgrade``, or :func:`upgrade`).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


class NotMigrated(RuntimeError):
    """The application database is missing tables or behind the newest migration."""

    def __init__(self, url: str, revision: str | None, head: str) -> None:
        self.url = safe_url(url)
        self.revision = revision
        self.head = head
        found = f"revision {revision}" if revision else "no tables"
        super().__init__(
            f"the application database {self.url} is not migrated ({found}, newest is {head}): "
            "run `medcode db upgrade` (with the same MEDCODE_HOME and MEDCODE_DATABASE_URL)"
        )


def database_url(conf: Any) -> str:
    """MEDCODE_DATABASE_URL (``postgresql://`` is served by psycopg 3), else SQLite ``app.db`` in the home folder."""
    url = str(getattr(conf, "database_url", "") or "")
    if not url:
        return f"sqlite:///{Path(conf.home).expanduser() / 'app.db'}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def safe_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: show nothing of it that could hold a secret
        return "(malformed database URL)"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def engine(url: str) -> Engine:
    """One engine per URL per process (a pool of connections shared by its threads)."""
    eng = _ENGINES.get(url)
    if eng is not None:
        return eng
    with _LOCK:
        eng = _ENGINES.get(url)
        if eng is None:
            eng = _make_engine(url)
            _ENGINES[url] = eng
        return eng


def dispose_all() -> None:
    """Close every pooled connection (tests; a forked child must not share its parent's sockets)."""
    with _LOCK:
        for eng in _ENGINES.values():
            eng.dispose()
        _ENGINES.clear()


def _make_engine(url: str) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, future=True)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10.0}, future=True)

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, so BEGIN IMMEDIATE is possible
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(eng, "begin")
    def _on_begin(conn: Any) -> None:
        # a connection asked for `immediate` takes the write lock at once (serialises check-then-insert)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return eng


def _config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest migration's revision."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations in {MIGRATIONS} have {len(heads)} heads, not one")
    return heads[0]


def revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated). A missing SQLite file is not created."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    with engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current(url: str) -> bool:
    """Whether the database is at the newest migration."""
    return revision(url) == head()


def require_current(url: str) -> None:
    """Raise :class:`NotMigrated` unless the database is at the newest migration."""
    found = revision(url)
    if found != head():
        raise NotMigrated(url, found, head())


def upgrade(url: str) -> str:
    """Run every migration up to the newest; return the revision reached."""
    with engine(url).begin() as conn:
        command.upgrade(_config(conn), "head")
    return head()
