"""The open knowledge base: connections and the releases it holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import apsw

from medcode.kb import db
from medcode.kb.releases import Release, Resolved, SourceRef, group, resolve


class KnowledgeBase:
    """A read-only knowledge base. Holds one connection to ``kb.sqlite`` and one per PTP file."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.conn = db.connect(self.path)
        self.conn.setbusytimeout(1000)
        self._ptp: dict[str, apsw.Connection] = {}
        self._rationales: dict[str, dict[int, str]] = {}
        rows = self.conn.execute(
            "SELECT id, family, release, file, path, layout, store, effective_from, effective_to,"
            " sha256, rows FROM releases ORDER BY id"
        ).fetchall()
        self.sources: dict[int, SourceRef] = {
            r[0]: SourceRef(r[0], r[1], r[2], r[3], r[4], r[5], r[6], date.fromisoformat(r[7]),
                            date.fromisoformat(r[8]), r[9], r[10])
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
        if key not in self._resolved:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[key] = resolve(self.releases.get(family, []), day)
        return self._resolved[key]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def ptp(self, store: str) -> apsw.Connection:
        conn = self._ptp.get(store)
        if conn is None:
            conn = db.connect_readonly(self.path / store)
            self._ptp[store] = conn
        return conn

    def ptp_rationales(self, store: str) -> dict[int, str]:
        texts = self._rationales.get(store)
        if texts is None:
            texts = dict(self.ptp(store).execute("SELECT id, text FROM ptp_rationales").fetchall())
            self._rationales[store] = texts
        return texts

    def close(self) -> None:
        for conn in self._ptp.values():
            conn.close()
        self.conn.close()


def open_kb(home: Path) -> KnowledgeBase:
    """The current knowledge base under ``home`` (``home/kb``), or a build directory itself."""
    path = home if (home / db.MAIN_FILE).exists() else home / "kb"
    return KnowledgeBase(path)
