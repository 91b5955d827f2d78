"""The open knowledge base: connections and the releases it holds."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import apsw

from medcode.kb import db
from medcode.kb.releases import Release, Resolved, SourceRef, group, resolve


class _Connections:
    """One thread's connections; closed when the thread ends (its thread-local data is dropped)."""

    def __init__(self) -> None:
        self.main: apsw.Connection | None = None
        self.ptp: dict[str, apsw.Connection] = {}

    def close(self) -> None:
        for conn in (self.main, *self.ptp.values()):
            if conn is not None:
                conn.close()
        self.main, self.ptp = None, {}

    def __del__(self) -> None:
        self.close()


class KnowledgeBase:
    """A read-only knowledge base. Each thread that asks gets its own connection to ``kb.sqlite``
    and to each PTP file (an SQLite connection must not be used by two threads at once; the files
    are ``immutable`` and memory-mapped, so connections share the operating system's page cache)."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet[_Connections] = weakref.WeakSet()  # of the threads alive
        self._closed = False
        self._rationales: dict[str, dict[int, str]] = {}
        rows: list[tuple[Any, ...]] = self.conn.execute(
            "SELECT id, family, release, file, path, layout, store, effective_from, effective_to,"
            " sha256, rows FROM releases ORDER BY id"
        ).fetchall()
        self.sources: dict[int, SourceRef] = {
            r[0]: SourceRef(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                date.fromisoformat(r[7]),
                date.fromisoformat(r[8]),
                r[9],
                r[10],
            )
            for r in rows
        }
        self.releases: dict[str, list[Release]] = group(self.sources.values())
        self._resolved: dict[tuple[str, date | None], Resolved | None] = {}
        self.memo: dict[str, Any] = {}  # data derived once per open knowledge base (by feature)
        self._presence: dict[str, int] = dict(self.conn.execute("SELECT code, mask FROM code_presence"))

    def presence(self, code: str) -> int:
        """Bit mask of the optional tables holding rows for ``code`` (``schema.PRESENCE``)."""
        return self._presence.get(code, 0)

    def resolve(self, family: str, day: date | None) -> Resolved | None:
        key = (family, day)
        try:
            return self._resolved[key]
        except KeyError:  # (another thread may clear the memo at any time: never read it back)
            found = resolve(self.releases.get(family, []), day)
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[key] = found
            return found

    @property
    def conn(self) -> apsw.Connection:
        """This thread's connection to ``kb.sqlite``."""
        mine = self._mine()
        if mine.main is None:
            mine.main = self._open(lambda: db.connect(self.path))
        return mine.main

    def _mine(self) -> _Connections:
        mine: _Connections | None = getattr(self._local, "conns", None)
        if mine is None:
            mine = self._local.conns = _Connections()
            with self._lock:
                self._holders.add(mine)
        return mine

    def _open(self, connect: Callable[[], apsw.Connection]) -> apsw.Connection:
        if self._closed:
            raise RuntimeError(f"the knowledge base at {self.path} is closed")
        conn = connect()
        conn.setbusytimeout(1000)
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def ptp(self, store: str) -> apsw.Connection:
        """This thread's connection to a PTP file of the build."""
        mine = self._mine()
        conn = mine.ptp.get(store)
        if conn is None:
            conn = mine.ptp[store] = self._open(lambda: db.connect_readonly(self.path / store))
        return conn

    def ptp_rationales(self, store: str) -> dict[int, str]:
        texts = self._rationales.get(store)
        if texts is None:
            texts = {int(i): str(t) for i, t in self.ptp(store).execute("SELECT id, text FROM ptp_rationales")}
            self._rationales[store] = texts
        return texts

    def close(self) -> None:
        """Closes every thread's connections (call it when no thread uses the knowledge base)."""
        with self._lock:
            self._closed = True
            holders = list(self._holders)
        for mine in holders:
            mine.close()


def open_kb(home: Path) -> KnowledgeBase:
    """The current knowledge base under ``home`` (``home/kb``), or a build directory itself."""
    path = home if (home / db.MAIN_FILE).exists() else home / "kb"
    return KnowledgeBase(path)
