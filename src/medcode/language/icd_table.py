"""The ICD-10-CM codes and notes of the release in force on a date, queried as the coding rules need them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from medcode.codes import compact_icd
from medcode.kb.store import KnowledgeBase

__all__ = ["Row", "Table"]


@dataclass(frozen=True)
class Row:
    code: str
    billable: bool
    parent: str | None
    kind: str
    description: str


class Table:
    """ICD-10-CM codes and notes of the release in force on a date (queried as needed)."""

    def __init__(self, kb: KnowledgeBase, day: date | None):
        self.kb = kb
        r = kb.resolve("icd10cm", day)
        self.rid = r.release.ids[0] if r is not None else -1
        self._rows: dict[str, Row | None] = {}
        self._children: dict[str, list[Row]] = {}

    def row(self, code: str) -> Row | None:
        if code not in self._rows:
            rows = self.kb.query(
                "SELECT code, billable, parent, kind, description FROM icd10cm_codes WHERE release_id = ? AND"
                " compact = ? AND kind NOT IN ('chapter', 'block')",
                (self.rid, compact_icd(code)),
            )
            self._rows[code] = Row(rows[0][0], bool(rows[0][1]), rows[0][2], rows[0][3], rows[0][4]) if rows else None
        return self._rows[code]

    def children(self, code: str) -> list[Row]:
        if code not in self._children:
            rows = self.kb.query(
                "SELECT code, billable, parent, kind, description FROM icd10cm_codes WHERE release_id = ? AND"
                " parent = ? AND code != ? AND kind NOT IN ('chapter', 'block') ORDER BY seq",
                (self.rid, code, code),
            )
            self._children[code] = [Row(c, bool(b), p, k, d) for c, b, p, k, d in rows]
            for r in self._children[code]:
                self._rows.setdefault(r.code, r)
        return self._children[code]

    def ancestors(self, code: str) -> list[str]:
        out, row = [], self.row(code)
        while row is not None and row.parent and row.parent not in out:
            out.append(row.parent)
            row = self.row(row.parent)
        return out

    def notes(self, codes: Iterable[str], note_type: str) -> list[tuple[str, str]]:
        codes = list(dict.fromkeys(codes))
        if not codes:
            return []
        return [
            (str(c), str(t))
            for c, t in self.kb.query(
                f"SELECT code, text FROM icd10cm_notes WHERE release_id = ? AND note_type = ? AND code IN"
                f" ({','.join('?' * len(codes))}) ORDER BY seq",
                (self.rid, note_type, *codes),
            )
        ]
