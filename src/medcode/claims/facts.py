"""What the checks ask the knowledge base, loaded a release at a time and kept for the run.

A claim file has thousands of codes and hundreds of dates; asking SQLite per code and date is
slow, so each reference table is read once per release into dictionaries (a few megabytes), and
PTP edits once per column 1 code. Dates pick the release (``kb.resolve``) and filter effective
and deletion dates in Python.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from medcode import vocab
from medcode.codes import MalformedCode, kinds, normalize
from medcode.kb import ncci
from medcode.kb.models import Citation
from medcode.kb.store import KnowledgeBase
from medcode.pricing import citation
from medcode.rules import PFS_ROW_MODIFIERS, pfs_modifier

# a code (``Z34.-``, ``E09``) or a range of codes (``P70-P74``, ``N81.2-N81.4``) in a note
_ICD_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
ICD_REF = re.compile(rf"\b({_ICD_CODE})(?:-({_ICD_CODE})\b|\.-|-)?")
PFS_COLUMNS = ("status", "pctc", "mult_proc", "bilateral", "assistant", "co_surgeon", "team")

# How much ``Facts`` keeps (least recently used out first): whole reference tables (a few MB each;
# a run reads those of a few releases), answers by code and release (about 300 bytes each with
# their keys: 30 MB at most), and the PTP edits of column 1 codes (a few KB each). A file of new
# codes costs at most these.
TABLES_KEPT = 48
ANSWERS_KEPT = 100_000
PTP_CODES_KEPT = 8_192


class Lru:
    """A mapping that keeps its ``size`` most recently used entries (safe across threads)."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for ``key``, else ``make()``, kept."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data


class Facts:
    """Reference data for checking claims against one knowledge base (shared by many claims),
    kept within ``TABLES_KEPT``, ``ANSWERS_KEPT`` and ``PTP_CODES_KEPT`` (or the sizes given)."""

    def __init__(
        self, kb: KnowledgeBase, tables: int = TABLES_KEPT, answers: int = ANSWERS_KEPT, ptp_codes: int = PTP_CODES_KEPT
    ):
        self.kb = kb
        self._tables = Lru(tables)  # reference tables by family and release
        self._memo = Lru(answers)  # pfs() and icd() answers by family, code and release
        self.ptp_edits = lru_cache(maxsize=ptp_codes)(self._ptp_edits)
        self.modifiers = {c for (c,) in kb.query("SELECT DISTINCT code FROM hcpcs_codes WHERE record_id = '7'")}
        self.modifiers |= set(vocab.cpt_modifiers())

    def _release(self, family: str, day: date | None) -> int | None:
        r = self.kb.resolve(family, day)
        return r.release.ids[0] if r else None

    def _table(self, family: str, day: date | None, load: Any) -> tuple[int | None, Any]:
        rid = self._release(family, day)
        if rid is None:
            return None, None
        return rid, self.table_at(family, rid, load)

    def table_at(self, family: str, rid: int, load: Any) -> Any:
        """The reference table of one release, loaded once by ``load(rid)``."""
        return self._tables.get((family, rid), lambda: load(rid))

    def _answer(self, family: str, load: Any, code: str, day: date | None, make: Any) -> Any:
        """``make(code, release_id, table)``, remembered by code and release."""
        rid, table = self._table(family, day, load)
        if table is None:
            return None
        return self._memo.get((family, code, rid), lambda: make(code, rid, table))

    def preload(self, day: date) -> None:
        """Loads the tables in force on ``day`` that the checks read, ahead of the first claim."""
        for family, load in (
            ("icd10cm", self._load_icd),
            ("pprrvu", self._load_pfs),
            ("aoc", self._load_aoc),
            ("mue_practitioner", self._load_mue),
            ("hcpcs", self._load_hcpcs),
        ):
            self._table(family, day, load)
        self.releases_with("")

    def cite(self, family: str, day: date | None, row: str) -> Citation | None:
        r = self.kb.resolve(family, day)
        return citation(r.release.files[0], row=row) if r else None

    # --- PFS -----------------------------------------------------------------------------

    def _load_pfs(self, rid: int) -> dict[str, dict[str, tuple]]:
        """Every PFS row of a release by code and modifier ('' for the code's own row, and the
        rows of ``rules.PFS_ROW_MODIFIERS``)."""
        marks = ", ".join("?" * len(PFS_ROW_MODIFIERS))
        rows = self.kb.query(
            f"SELECT hcpcs, modifier, {', '.join(PFS_COLUMNS)}, line, description FROM rvus "
            f"WHERE release_id = ? AND modifier IN ('', {marks}) ORDER BY hcpcs, modifier, line",
            (rid, *PFS_ROW_MODIFIERS),
        )
        out: dict[str, dict[str, tuple]] = {}
        for r in rows:
            out.setdefault(r[0], {})[r[1]] = r[2:]
        return out

    def pfs(self, code: str, day: date | None, modifiers: Iterable[str] = ()) -> dict[str, Any] | None:
        """The PFS row a line of ``code`` with ``modifiers`` is judged by: the row of its 26, TC or
        53 modifier where the file has one (``rules.pfs_modifier``), else the code's own row."""
        mod = pfs_modifier(modifiers)
        return self._answer("pprrvu", self._load_pfs, f"{code} {mod}" if mod else code, day, self._pfs)

    def pfs_rows(self, code: str, day: date | None) -> tuple[str, ...]:
        """The modifiers with a PFS row of ``code`` in the release in force ('' for its own row)."""
        _, table = self._table("pprrvu", day, self._load_pfs)
        return tuple(table.get(code, ())) if table else ()

    def _pfs(self, key: str, rid: int, table: dict[str, dict[str, tuple]]) -> dict[str, Any] | None:
        code, _, mod = key.partition(" ")
        rows = table.get(code, {})
        mod = mod if mod in rows else ""
        row = rows.get(mod)
        if row is None:
            return None
        out = dict(zip(PFS_COLUMNS, row[:7]))
        out["modifier"] = mod
        out["description"] = row[8]
        out["citation"] = citation(self.kb.sources[rid], row=f"{code}-{mod}" if mod else code, line=row[7])
        return out

    def _load_hcpcs(self, rid: int) -> set[str]:
        return {
            c for (c,) in self.kb.query("SELECT code FROM hcpcs_codes WHERE release_id = ? AND record_id = '3'", (rid,))
        }

    def hcpcs(self, code: str, day: date | None) -> bool:
        _, codes = self._table("hcpcs", day, self._load_hcpcs)
        return bool(codes) and code in codes

    def _load_pfs_everywhere(self, _: int) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for code, rid in self.kb.query("SELECT hcpcs, release_id FROM rvus WHERE modifier = ''"):
            out.setdefault(code, set()).add(rid)
        return out

    def releases_with(self, code: str) -> tuple[str, ...]:
        """The PFS releases that list ``code`` (to tell 'not yet valid' from 'unknown')."""
        ids = self.table_at("pprrvu-all", 0, self._load_pfs_everywhere).get(code, set())
        return tuple(rel.name for rel in self.kb.releases.get("pprrvu", []) if set(rel.ids) & ids)

    # --- NCCI ----------------------------------------------------------------------------

    def _load_aoc(self, rid: int) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {}
        for addon, etype, primary, eff, dele, line in self.kb.query(
            "SELECT addon_code, edit_type, primary_code, effective, deleted, line FROM aoc_edits "
            "WHERE release_id = ? ORDER BY line",
            (rid,),
        ):
            out.setdefault(addon, []).append((etype, primary, eff, dele, line))
        return out

    def addon(self, code: str, day: date | None) -> dict[str, Any] | None:
        """The add-on code edit in force for ``code`` on ``day`` (``ncci.addon_edit``)."""
        rid, table = self._table("aoc", day, self._load_aoc)
        edit = ncci.addon_edit(table.get(code, ()), day) if table else None
        if edit is None or rid is None:
            return None
        return {
            "type": edit.type,
            "primaries": frozenset(edit.primaries),
            "citation": citation(self.kb.sources[rid], row=code, line=edit.line),
        }

    def _load_mue(self, rid: int) -> dict[str, tuple]:
        return {
            r[0]: r[1:]
            for r in self.kb.query(
                "SELECT hcpcs, units, mai, rationale, line FROM mue_limits WHERE release_id = ?", (rid,)
            )
        }

    def mue(self, code: str, day: date | None) -> dict[str, Any] | None:
        rid, table = self._table("mue_practitioner", day, self._load_mue)
        row = table.get(code) if table else None
        if row is None or rid is None:
            return None
        units, mai, rationale, line = row
        return {
            "units": units,
            "mai": mai,
            "rationale": rationale,
            "citation": citation(self.kb.sources[rid], row=code, line=line),
        }

    def _ptp_edits(self, store: str, column_1: str) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {}
        for col2, mod, eff, dele, rid in self.kb.ptp(store).execute(
            "SELECT column_2, modifier, effective, deleted, rationale_id FROM ptp_edits WHERE column_1 = ? "
            "ORDER BY column_2, deleted, effective, modifier, rationale_id",  # tables.ptp's order
            (column_1,),
        ):
            out.setdefault(col2, []).append((mod, eff, dele, rid))
        return out

    def ptp(self, column_1: str, column_2: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("ptp_practitioner", day)
        if r is None:
            return None
        rows = self.ptp_edits(r.release.store, column_1).get(column_2)
        if not rows:
            return None
        on = ncci.yyyymmdd(day)
        live = [x for x in rows if ncci.in_force(x[1], x[2], on)]
        if not live:
            return None
        modifier, effective, deleted, rid = live[0]
        return {
            "modifier": modifier,
            "effective": effective,
            "deleted": deleted,
            "rationale": self.kb.ptp_rationales(r.release.store).get(rid, ""),
            "release": r.release.name,
            "citation": citation(r.release.files[0], row=f"{column_1}/{column_2}"),
        }

    # --- ICD-10-CM -----------------------------------------------------------------------

    def _load_icd(self, rid: int) -> tuple[dict[str, tuple], dict[str, list[tuple[str, str, str]]]]:
        """``(codes, notes)``: every code but chapters and blocks by its compact form, as ``(code,
        billable, kind, parent, chapter)``; the Excludes1 references of every code, block and
        chapter with a note, as ``(text, low, high)`` (``excludes1_range``)."""
        codes = {
            compact: (code, billable, kind, parent, chapter)
            for code, compact, billable, kind, parent, chapter in self.kb.query(
                "SELECT code, compact, billable, kind, parent, chapter FROM icd10cm_codes "
                "WHERE release_id = ? AND kind NOT IN ('chapter', 'block')",
                (rid,),
            )
        }
        notes: dict[str, list[tuple[str, str, str]]] = {}
        for code, text in self.kb.query(
            "SELECT code, text FROM icd10cm_notes WHERE release_id = ? AND note_type = 'excludes1' ORDER BY seq", (rid,)
        ):
            notes.setdefault(code, []).extend((text, *excludes1_range(m)) for m in ICD_REF.finditer(text))
        return codes, notes

    def icd(self, code: str, day: date | None) -> dict[str, Any] | None:
        return self._answer("icd10cm", self._load_icd, code, day, self._icd)

    def _icd(self, code: str, rid: int, table: tuple[dict[str, tuple], dict[str, list]]) -> dict[str, Any] | None:
        codes, notes = table
        row = codes.get(code.replace(".", ""))
        if row is None:
            return None
        found, billable, kind = row[:3]
        # Excludes1 notes apply to the code and everything under the note (up to its chapter)
        excludes = [
            (f"chapter {here}" if here.isdigit() else here, text, low, high)
            for here in icd_lineage(codes, found)
            for text, low, high in notes.get(here, ())
        ]
        return {
            "code": found,
            "billable": bool(billable),
            "kind": kind,
            "excludes1": tuple(excludes),
            "citation": citation(self.kb.sources[rid], row=found),
        }


def icd_lineage(codes: dict[str, tuple], code: str) -> Iterator[str]:
    """``code``, its parents up to the category, its block and its chapter, from an ICD table of
    ``Facts`` (keyed by the code without its dot): the codes whose notes apply to ``code`` (the
    tabular's Excludes1 notes at block and chapter level apply to every code under them)."""
    here: str | None = code
    chapter = None
    while here is not None:
        yield here
        up = codes.get(here.replace(".", ""))
        if up is not None:
            chapter = up[4]
        # stop after the block (a one-category block has the category's code, e.g. B10)
        here = up[3] if up and up[3] != here else None
    if chapter:
        yield chapter


def excludes1_range(m: re.Match) -> tuple[str, str]:
    """The codes an Excludes1 reference names, as the lowest and highest compact code: a code and
    what is under it (``Z34.-``: ``Z34``, ``Z34``), or a range (``P70-P74``: ``P70``, ``P74``)."""
    low = m.group(1).replace(".", "")
    return low, (m.group(2) or m.group(1)).replace(".", "")


def in_excludes1_range(compact: str, low: str, high: str) -> bool:
    """Whether the code ``compact`` (no dot) is one an Excludes1 reference ``low``-``high`` names:
    from ``low`` to ``high`` and every code under ``high``."""
    return compact >= low and (compact <= high or compact.startswith(high))


def code_kind(code: str) -> str | None:
    """'procedure', 'diagnosis' or None for text that is no code at all."""
    try:
        found = kinds(normalize(code))
    except MalformedCode:
        return None
    return found[0] if found else None
