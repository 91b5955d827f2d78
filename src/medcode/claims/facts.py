"""What the checks ask the knowledge base, by code and date of service, remembered for a run."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from medcode import vocab
from medcode.codes import MalformedCode, kinds, normalize
from medcode.kb.models import Citation
from medcode.kb.store import KnowledgeBase
from medcode.pricing import citation

ICD_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.-|-)?")


class Facts:
    """Cached lookups for one knowledge base (safe to share across claims)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.pfs = lru_cache(maxsize=65536)(self._pfs)
        self.addon = lru_cache(maxsize=65536)(self._addon)
        self.mue = lru_cache(maxsize=65536)(self._mue)
        self.ptp = lru_cache(maxsize=262144)(self._ptp)
        self.icd = lru_cache(maxsize=65536)(self._icd)
        self.hcpcs = lru_cache(maxsize=65536)(self._hcpcs)
        self.releases_with = lru_cache(maxsize=65536)(self._releases_with)
        self.modifiers = {c for (c,) in kb.query("SELECT DISTINCT code FROM hcpcs_codes WHERE record_id = '7'")}
        self.modifiers |= set(vocab.cpt_modifiers())

    def cite(self, family: str, day: date | None, row: str) -> Citation | None:
        r = self.kb.resolve(family, day)
        return citation(r.release.files[0], row=row) if r else None

    def _pfs(self, code: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("pprrvu", day)
        if r is None:
            return None
        rows = self.kb.query(
            "SELECT status, pctc, mult_proc, bilateral, assistant, co_surgeon, team, line, description "
            "FROM rvus WHERE hcpcs = ? AND modifier = '' AND release_id = ?", (code, r.release.ids[0]))
        if not rows:
            return None
        status, pctc, mult, bil, asst, cosurg, team, line, desc = rows[0]
        return {"status": status, "pctc": pctc, "mult_proc": mult, "bilateral": bil, "assistant": asst,
                "co_surgeon": cosurg, "team": team, "description": desc, "release": r.release.name,
                "citation": citation(self.kb.sources[r.release.ids[0]], row=code, line=line)}

    def _hcpcs(self, code: str, day: date | None) -> bool:
        r = self.kb.resolve("hcpcs", day)
        return bool(r and self.kb.query("SELECT 1 FROM hcpcs_codes WHERE code = ? AND release_id = ? "
                                         "AND record_id = '3' LIMIT 1", (code, r.release.ids[0])))

    def _releases_with(self, code: str) -> tuple[str, ...]:
        """The PFS releases that list ``code`` (to tell 'not yet valid' from 'unknown')."""
        ids = {r[0] for r in self.kb.query("SELECT release_id FROM rvus WHERE hcpcs = ? AND modifier = ''",
                                           (code,))}
        return tuple(rel.name for rel in self.kb.releases.get("pprrvu", []) if set(rel.ids) & ids)

    def _addon(self, code: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("aoc", day)
        if r is None:
            return None
        iso = day.isoformat() if day else "9999-12-31"
        rows = self.kb.query("SELECT edit_type, primary_code, effective, deleted, line FROM aoc_edits "
                             "WHERE addon_code = ? AND release_id = ?", (code, r.release.ids[0]))
        live = [x for x in rows if (x[2] is None or x[2] <= iso) and (x[3] is None or x[3] > iso)]
        if not live:
            return None
        return {"type": live[0][0], "primaries": frozenset(x[1] for x in live if x[1] != "CCCCC"),
                "citation": citation(self.kb.sources[r.release.ids[0]], row=code, line=live[0][4])}

    def _mue(self, code: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("mue_practitioner", day)
        if r is None:
            return None
        rows = self.kb.query("SELECT units, mai, rationale, line FROM mue_limits WHERE hcpcs = ? AND release_id = ?",
                             (code, r.release.ids[0]))
        if not rows:
            return None
        units, mai, rationale, line = rows[0]
        return {"units": units, "mai": mai, "rationale": rationale,
                "citation": citation(self.kb.sources[r.release.ids[0]], row=code, line=line)}

    def _ptp(self, column_1: str, column_2: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("ptp_practitioner", day)
        if r is None:
            return None
        on = day.year * 10000 + day.month * 100 + day.day if day else 99991231
        rows = self.kb.ptp(r.release.store).execute(
            "SELECT modifier, effective, deleted, rationale_id FROM ptp_edits WHERE column_1 = ? AND column_2 = ? "
            "AND (effective IS NULL OR effective <= ?) ORDER BY deleted IS NULL DESC, deleted DESC LIMIT 1",
            (column_1, column_2, on)).fetchall()
        if not rows:
            return None
        modifier, effective, deleted, rid = rows[0]
        if deleted is not None and deleted <= on:
            return None
        return {"modifier": modifier, "effective": effective, "deleted": deleted,
                "rationale": self.kb.ptp_rationales(r.release.store).get(rid, ""), "release": r.release.name,
                "citation": citation(r.release.files[0], row=f"{column_1}/{column_2}")}

    def _icd(self, code: str, day: date | None) -> dict[str, Any] | None:
        r = self.kb.resolve("icd10cm", day)
        if r is None:
            return None
        compact = code.replace(".", "")
        rows = self.kb.query("SELECT code, billable, kind FROM icd10cm_codes WHERE compact = ? AND release_id = ? "
                             "AND kind NOT IN ('chapter', 'block')", (compact, r.release.ids[0]))
        if not rows:
            return None
        found, billable, kind = rows[0]
        chain, parent = [found], found
        while True:  # the code and its parents: Excludes1 notes apply to the whole branch
            p = self.kb.query("SELECT parent FROM icd10cm_codes WHERE code = ? AND release_id = ?",
                              (parent, r.release.ids[0]))
            if not p or p[0][0] is None:
                break
            parent = p[0][0]
            chain.append(parent)
        marks = ",".join("?" * len(chain))
        notes = self.kb.query(f"SELECT code, text FROM icd10cm_notes WHERE release_id = ? AND note_type = 'excludes1' "
                              f"AND code IN ({marks})", (r.release.ids[0], *chain))
        excludes = tuple((src, text, m.group(1).replace(".", "")) for src, text in notes
                         for m in ICD_REF.finditer(text))
        return {"code": found, "billable": bool(billable), "kind": kind, "excludes1": excludes,
                "citation": citation(self.kb.sources[r.release.ids[0]], row=found)}


def code_kind(code: str) -> str | None:
    """'procedure', 'diagnosis' or None for text that is no code at all."""
    try:
        found = kinds(normalize(code))
    except MalformedCode:
        return None
    return found[0] if found else None
