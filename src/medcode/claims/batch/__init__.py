"""The batch engine: the claim checks as joins over whole files (Polars), with the same findings,
allowed amounts and notices as the per-claim engine (``medcode.claims.Checker``).

How it stays identical:

- The joins only find *candidates*: lines, pairs or groups where a check may have something to
  say. That part is a superset by construction (for example, every pair of lines on one date
  that has a PTP edit in force, whatever its modifiers).
- The words of a finding come from the same functions the per-claim checks call
  (``validity.line_findings``, ``ptp.pair_finding`` ...), called once per distinct key (code,
  release, modifiers ...) rather than once per line, and joined back to every line with that key.
- Claims the fast path does not model (input problems, a line without a date, fractional
  units, a claim without a date) go through the per-claim engine unchanged.
- Amounts are exact: the fee schedule's RVUs, GPCIs and conversion factor are turned into
  integers and rounded half up to the cent as ``decimal`` does; a table value with more digits
  than that is priced by the per-claim pricer instead.

``tests/test_batch.py`` checks that both engines give the same results on generated files and
on every hand-made claim of the test suite.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import polars as pl

from medcode import rules, vocab
from medcode.claims import Checker
from medcode.claims.batch import tables
from medcode.claims.checks import (
    addon,
    diagnosis,
    duplicates,
    modifier_pairs,
    modifiers,
    mue,
    npi,
    place_of_service,
    ptp,
    releases,
    siblings,
    unpointed,
    validity,
)
from medcode.claims.facts import code_kind
from medcode.claims.model import CheckedClaim, Finding, Line, PricedLine
from medcode.kb import ncci
from medcode.kb.models import Citation
from medcode.kb.store import KnowledgeBase
from medcode.pricing import citation
from medcode.rules import ASSISTANT_SHARE

log = logging.getLogger(__name__)

CLAIM_SCHEMA = {"cid": pl.Int64, "claim_id": pl.String, "cdate": pl.Date, "pos": pl.String, "zip": pl.String,
                "locality": pl.String, "dx": pl.List(pl.String), "billing_npi": pl.String, "rendering_npi": pl.String,
                "referring_npi": pl.String}
LINE_SCHEMA = {"cid": pl.Int64, "line": pl.Int64, "code": pl.String, "mkey": pl.String,  # modifiers, space-separated
               "units": pl.Int64, "ptrs": pl.List(pl.Int64), "ldate": pl.Date}
FOUND_SCHEMA = {"fid": pl.String, "sev": pl.String, "msg": pl.String, "fix": pl.String, "cite": pl.Int64,
                "cite_row": pl.String, "cite_line": pl.Int64}  # cite: index of the citation without row and line
FINDING_SCHEMA = {"cid": pl.Int64, "lines": pl.List(pl.Int64), **FOUND_SCHEMA}
OUT_LINE_SCHEMA = {"cid": pl.Int64, "line": pl.Int64, "code": pl.String, "modifiers": pl.List(pl.String),
                   "units": pl.Float64, "setting": pl.String, "rate": pl.Float64,
                   "adjustments": pl.List(pl.String), "allowed": pl.Float64, "denied": pl.Boolean}
OUT_CLAIM_SCHEMA = {"cid": pl.Int64, "claim_id": pl.String, "total_allowed": pl.Float64, "at_risk": pl.Float64,
                    "locality": pl.String, "notices": pl.List(pl.String)}
# the modifiers a check asks about by name: 25, 51 and those the PFS indicators govern
FLAGGED = ("25", "51", *dict.fromkeys(m for mods in rules.INDICATOR_MODIFIERS.values() for m in mods))
MODIFIER_FLAGS = {"mkey": pl.String, "m_unknown": pl.Boolean, **{f"m{m}": pl.Boolean for m in FLAGGED},
                  "m_assistant": pl.Boolean, "assistant_mod": pl.String, "pfs_mod": pl.String, "want_mod": pl.String,
                  "ncci": pl.String}
PIECE_STRIDE = 1 << 32  # claim ids of piece i of a file start at i * PIECE_STRIDE
SEVERITY_RANK = rules.SEVERITY_ORDER


@dataclass
class BatchResult:
    """Checked claims as three frames (claims, lines, findings) and the citations they index."""

    claims: pl.DataFrame
    lines: pl.DataFrame
    findings: pl.DataFrame
    cites: list[Citation]

    def __len__(self) -> int:
        return self.claims.height

    def summary(self) -> dict[str, Any]:
        """As ``report.summary`` of the same claims, from the frames."""
        f = self.findings
        by_id = dict(f.group_by("fid").len().iter_rows())
        by_sev = dict(f.group_by("sev").len().iter_rows())
        return {"claims": self.claims.height, "lines": self.lines.height, "findings": dict(sorted(by_id.items())),
                "by_severity": {k: by_sev.get(k, 0) for k in ("deny", "warn", "info")},
                "total_allowed": round(self.claims["total_allowed"].sum(), 2),
                "at_risk": round(self.claims["at_risk"].sum(), 2)}

    def to_checked(self) -> list[CheckedClaim]:
        """The results as ``CheckedClaim`` objects, as the per-claim engine returns them."""
        lines: dict[int, list[PricedLine]] = {}
        for r in self.lines.iter_rows(named=True):
            u = r["units"]
            lines.setdefault(r["cid"], []).append(PricedLine(
                r["line"], r["code"], tuple(r["modifiers"]), int(u) if u is not None and u.is_integer() else u,
                r["setting"], r["rate"], tuple(r["adjustments"]), r["allowed"], r["denied"]))
        found: dict[int, list[Finding]] = {}
        for r in self.findings.iter_rows(named=True):
            found.setdefault(r["cid"], []).append(Finding(
                r["fid"], r["sev"], tuple(r["lines"]), r["msg"], r["fix"],
                None if r["cite"] is None else replace(self.cites[r["cite"]], row=r["cite_row"], line=r["cite_line"])))
        return [CheckedClaim(c["claim_id"], tuple(found.get(c["cid"], ())), tuple(lines.get(c["cid"], ())),
                             c["total_allowed"], c["at_risk"], c["locality"], tuple(c["notices"]))
                for c in self.claims.iter_rows(named=True)]


class BatchChecker:
    """Checks many claims at once. ``check(claims, lines, slow)`` takes the claims the fast path
    models as frames (``CLAIM_SCHEMA``, ``LINE_SCHEMA``) and the rest as ``(cid, Claim)`` pairs."""

    def __init__(self, kb: KnowledgeBase, checker: Checker | None = None):
        self.kb = kb
        self.checker = checker or Checker(kb)
        self.facts = self.checker.facts
        self.pricer = self.checker.pricer
        self.cites: list[Citation] = []
        self._cite_ix: dict[tuple, int] = {}
        # per call site of _per_key: the keys already worded and the findings they gave, kept
        # across the pieces of a file (keys repeat: the same codes, dates and modifiers)
        self._worded: dict[tuple, tuple[pl.DataFrame, pl.DataFrame]] = {}
        self._kept: dict[Any, pl.DataFrame] = {}  # frames worked out once per file
        self._lock = threading.RLock()  # pieces may be checked in two threads at once

    def _cite(self, c: Citation | None) -> tuple[int | None, str | None, int | None]:
        """(index of the citation without row and line, row, line)."""
        if c is None:
            return None, None, None
        key = (c.file, c.release, c.family, c.sha256)
        ix = self._cite_ix.get(key)
        if ix is None:
            ix = self._cite_ix[key] = len(self.cites)
            self.cites.append(replace(c, row=None, line=None))
        return ix, c.row, c.line

    # --- the run ------------------------------------------------------------------------------

    def check(self, claims: pl.DataFrame, lines: pl.DataFrame, slow: Iterable[tuple[int, Any]] = ()) -> BatchResult:
        out = [self._fast(claims, lines)] if claims.height else []
        slow = list(slow)
        if slow:
            out.append(self._from_checked([(cid, self.checker.check(claim)) for cid, claim in slow]))
        return _result(out, self.cites)

    def check_piece(self, index: int, frames: tuple) -> BatchResult:
        """``check`` of piece ``index`` of a file, its claim ids moved past those of the pieces
        before (``PIECE_STRIDE`` each) so that pieces merge in file order."""
        claims, lines, slow = frames
        offset = index * PIECE_STRIDE
        return self.check(claims.with_columns(pl.col("cid") + offset), lines.with_columns(pl.col("cid") + offset),
                          [(cid + offset, claim) for cid, claim in slow])

    def _fast(self, claims: pl.DataFrame, lines: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
        days = self._days(pl.concat([lines["ldate"].drop_nulls(), claims["cdate"].drop_nulls()]).unique().to_list())
        c = claims.join(days.select(pl.col("day").alias("cdate"), "icd_rid"), on="cdate", how="left")
        ln = (lines.join(claims.select("cid", "cdate"), on="cid")
              .with_columns(day=pl.coalesce("ldate", "cdate")).join(days, on="day", how="left"))
        ln = ln.join(self._modifier_table(ln["mkey"]), on="mkey", how="left")
        ln = self._pfs_rows(ln, tables.pfs(self.facts, _ids(days, "pfs_rid")))
        ln = self._addon_rows(ln)
        found = [self._validity(ln), self._diagnoses(c), self._addon(ln), self._ptp(ln), self._mue(ln),
                 self._modifiers(ln), self._siblings(ln), self._pointers(ln, c), self._excludes1(c),
                 releases.batch_findings(self.kb, ln, FINDING_SCHEMA),
                 *(check.batch(self, ln, c) for check in (npi, place_of_service, duplicates, modifier_pairs,
                                                          unpointed))]
        findings = pl.concat([f.select(list(FINDING_SCHEMA)) for f in found])
        from medcode.claims.batch.reprice import reprice  # it imports this module

        out_claims, out_lines = reprice(self, c, ln, findings)
        # the release notices of each claim ahead of the pricing ones, as the per-claim engine lists them
        out_claims = (out_claims.join(releases.batch_notices(self.kb, c, ln), on="cid", how="left")
                      .with_columns(notices=pl.concat_list(pl.col("release_notes").fill_null([]), "notices"))
                      .drop("release_notes"))
        return out_claims, out_lines, findings

    def _modifier_table(self, keys: pl.Series) -> pl.DataFrame:
        """What the checks and the pricer ask of a line's modifiers, once per distinct list
        (``mkey``, the modifiers joined by spaces): list operations per line are slow."""
        with self._lock:
            known = self._kept.get("modifiers")
            new = keys.unique().to_frame("mkey")
            if known is not None:
                new = new.join(known.select("mkey"), on="mkey", how="anti")
            rows = []
            for key in new["mkey"].to_list():
                mods = key.split()
                has = set(mods)
                rows.append((key, any(m not in self.facts.modifiers for m in mods),
                             *(m in has for m in FLAGGED),
                             bool(has & modifiers.ASSISTANT), next((m for m in ASSISTANT_SHARE if m in has), None),
                             "26" if "26" in has else "TC" if "TC" in has else "",  # pricing's row (H2)
                             rules.pfs_modifier(mods), " ".join(sorted(has & ptp.NCCI_MODIFIERS))))
            found = pl.DataFrame(rows, schema=MODIFIER_FLAGS, orient="row")
            known = found if known is None else pl.concat([known, found])
            self._kept["modifiers"] = known
            return known

    @staticmethod
    def _pfs_rows(ln: pl.DataFrame, pfs: pl.DataFrame) -> pl.DataFrame:
        """Each line's PFS indicators from the row ``Facts.pfs`` picks: the row of its 26, TC or 53
        modifier (``want_mod``) where the file has one (``row_mod``), else the code's own row."""
        own = pfs.filter(pl.col("row_mod") != "").select("pfs_rid", "code", want_mod="row_mod", _own=pl.lit(True))
        return (ln.join(own, on=["pfs_rid", "code", "want_mod"], how="left")
                .with_columns(row_mod=pl.when(pl.col("_own")).then(pl.col("want_mod")).otherwise(pl.lit("")))
                .drop("_own").join(pfs, on=["pfs_rid", "code", "row_mod"], how="left"))

    def warm(self, day: date) -> None:
        """Loads the per-claim engine's tables in force on ``day``, which the wording of findings
        reads (a second or so), while another thread reads the first claims."""
        with self._lock:
            try:
                self.facts.preload(day)
            except Exception:  # noqa: BLE001  (only a head start: the checks load what they need)
                log.debug("warming the reference tables failed", exc_info=True)

    def _days(self, days: list[date]) -> pl.DataFrame:
        kb, rows = self.kb, []
        ptp_releases = kb.releases.get("ptp_practitioner", [])
        for day in days:
            row: dict[str, Any] = {"day": day}
            for family, col in (("pprrvu", "pfs_rid"), ("aoc", "aoc_rid"), ("mue_practitioner", "mue_rid"),
                                ("gpci", "gpci_rid"), ("zip5", "zip_rid"), ("locality", "loc_rid"),
                                ("oppscap", "cap_rid"), ("icd10cm", "icd_rid"), ("hcpcs", "hcpcs_rid")):
                row[col] = self.facts._release(family, day)
            r = kb.resolve("ptp_practitioner", day)
            row["ptp_ix"] = ptp_releases.index(r.release) if r else None
            p, cap = kb.resolve("pprrvu", day), kb.resolve("oppscap", day)
            row["cap_on"] = bool(p and cap and cap.release.effective_from.year == p.release.effective_from.year)
            rows.append(row)
        schema = {"day": pl.Date, **{k: pl.Int64 for k in ("pfs_rid", "aoc_rid", "mue_rid", "gpci_rid", "zip_rid",
                                                           "loc_rid", "cap_rid", "icd_rid", "hcpcs_rid",
                                                           "ptp_ix")}, "cap_on": pl.Boolean}
        return pl.DataFrame(rows, schema=schema)

    def _per_key(self, df: pl.DataFrame, keys: list[str], make: Callable[..., Iterable[Finding | None]],
                 lines: pl.Expr, fields: tuple[str, ...] = (), cite_line: str | None = None) -> pl.DataFrame:
        """Findings for the rows of ``df``: ``make(row)`` once per distinct ``keys``, joined back
        to every row with those keys; ``lines`` gives each finding's claim lines.

        With ``fields``, ``make(row, text)`` gets ``text[field]``, a placeholder to write in the
        message, fix and citation row instead of the row's own value; each row's values are put
        in after the join, so one call serves every code and date that share the keys.
        ``cite_line`` names a column holding the citation's line number."""
        if df.is_empty():
            return pl.DataFrame(schema=FINDING_SCHEMA)
        text = {f: chr(0xE000 + i) for i, f in enumerate(fields)}  # private-use characters
        site = (getattr(make, "__qualname__", ""), tuple(keys), fields)
        key_schema = {k: df.schema[k] for k in keys}
        with self._lock:
            found = self._word(df, keys, make, fields, text, site, key_schema)
        out = df.join(found, on=keys, how="inner", nulls_equal=True).with_columns(lines=lines)
        for f, ch in text.items():
            value = pl.col(f).cast(pl.String)
            used = [c for c in ("msg", "fix", "cite_row") if found[c].str.contains(ch, literal=True).any()]
            out = out.with_columns(pl.col(c).str.replace_all(ch, value, literal=True) for c in used)
        if cite_line:
            out = out.with_columns(cite_line=pl.col(cite_line))
        return out.select(list(FINDING_SCHEMA))

    def _word(self, df: pl.DataFrame, keys: list[str], make: Callable[..., Iterable[Finding | None]],
              fields: tuple[str, ...], text: dict[str, str], site: tuple, key_schema: dict) -> pl.DataFrame:
        """The findings of every distinct key of ``df``, worded once per file (see ``_per_key``)."""
        seen, found = self._worded.get(site) or (pl.DataFrame(schema=key_schema),
                                                 pl.DataFrame(schema={**key_schema, **FOUND_SCHEMA}))
        uniq = df.select(keys).unique(keep="first", maintain_order=True)
        if not seen.is_empty():
            uniq = uniq.join(seen, on=keys, how="anti", nulls_equal=True)
        if not uniq.is_empty():
            rows = df.join(uniq, on=keys, how="semi", nulls_equal=True).unique(subset=keys, keep="first",
                                                                               maintain_order=True)
            cols: dict[str, list] = {k: [] for k in (*keys, *FOUND_SCHEMA)}
            for row in rows.iter_rows(named=True):
                for f in (make(row, text) if fields else make(row)):
                    if f is None:
                        continue
                    for k in keys:
                        cols[k].append(row[k])
                    for k, v in zip(FOUND_SCHEMA, (f.id, f.severity, f.message, f.fix, *self._cite(f.citation))):
                        cols[k].append(v)
            found = pl.concat([found, pl.DataFrame(cols, schema={**key_schema, **FOUND_SCHEMA})])
            seen = pl.concat([seen, uniq])
            self._worded[site] = seen, found
        return found

    # --- checks -------------------------------------------------------------------------------

    def _validity(self, ln: pl.DataFrame) -> pl.DataFrame:
        codes = ln["code"].unique().to_list()
        kinds = pl.DataFrame({"code": codes, "is_proc": [code_kind(c) == "procedure" for c in codes]},
                             schema={"code": pl.String, "is_proc": pl.Boolean})
        # a code the fee schedule lists is worded once per release; any other once per fee
        # schedule and HCPCS release, with the day written in per line
        cand = (ln.select("cid", "line", "code", "day", "status", "pfs_rid", "hcpcs_rid", "row_mod", "want_mod")
                .join(kinds, on="code")
                .filter((~(pl.col("is_proc") & (pl.col("status") == "A"))).fill_null(True))
                .with_columns(hcpcs_key=pl.when(pl.col("status").is_null()).then(pl.col("hcpcs_rid"))))
        # the line's 26, TC or 53 (want_mod) picks the row it is judged by, or none where neither it
        # nor the code's own row is in the file
        return self._per_key(cand, ["code", "want_mod", "pfs_rid", "hcpcs_key"],
                             lambda r, text: validity.line_findings(
                                 self.facts, Line(0, r["code"], (r["want_mod"],) if r["want_mod"] else ()),
                                 r["day"], text["day"]),
                             pl.concat_list("line"), fields=("day",))

    def _diagnoses(self, c: pl.DataFrame) -> pl.DataFrame:
        dx = _dx(c)
        billable = tables.icd_billable(self.facts, _ids(c, "icd_rid"))
        cand = dx.join(billable, on=["icd_rid", "compact"], how="anti")
        return self._per_key(cand, ["dx", "icd_rid"],
                             lambda r, text: validity.diagnosis_findings(self.facts, text["i"], r["dx"], r["cdate"],
                                                                         text["cdate"]),
                             pl.lit([], dtype=pl.List(pl.Int64)), fields=("i", "cdate"))

    def _addon_rows(self, ln: pl.DataFrame) -> pl.DataFrame:
        """Marks add-on lines: the first edit row in force (``aoc_row``) and whether a primary
        code of theirs is billed on another line of the same date."""
        aoc = tables.aoc(self.facts, _ids(ln, "aoc_rid"))
        # the lines of add-on codes, with their day as the text the edits' dates compare with
        addons = (ln.select("cid", "line", "day", "aoc_rid", "code")
                  .join(aoc.select("aoc_rid", "code").unique(), on=["aoc_rid", "code"], how="semi")
                  .with_columns(iso=pl.col("day").dt.to_string("%Y-%m-%d")))
        live = addons.join(aoc, on=["aoc_rid", "code"]).filter(ncci.in_force_expr(pl.col("iso")))
        others = ln.select("cid", "day", pl.col("line").alias("other"), pl.col("code").alias("primary"))
        with_primary = (live.filter(pl.col("primary") != ncci.NO_PRIMARY_LIST)
                        .join(others, on=["cid", "day", "primary"])
                        .filter(pl.col("other") != pl.col("line")).select("cid", "line").unique()
                        .with_columns(has_primary=pl.lit(True)))
        first = (live.sort("aoc_row").group_by("cid", "line")
                 .agg(pl.col("aoc_row").first(), pl.col("edit_type").first().alias("first_type")))
        # the edits in force change only on their effective dates and the day after their deletion
        # dates, so the number of those days up to the day names the set in force (one wording
        # serves its days)
        epoch = (addons.join(first.select("cid", "line"), on=["cid", "line"])
                 .join(tables.aoc_changes(self.facts, _ids(ln, "aoc_rid")), on=["aoc_rid", "code"])
                 .group_by("cid", "line").agg(aoc_epoch=pl.when(pl.col("out")).then(pl.col("date") < pl.col("iso"))
                                              .otherwise(pl.col("date") <= pl.col("iso")).sum()))
        marks = (first.join(with_primary, on=["cid", "line"], how="left").join(epoch, on=["cid", "line"], how="left")
                 .with_columns(pl.col("aoc_epoch").fill_null(0)))
        return ln.join(marks, on=["cid", "line"], how="left").with_columns(pl.col("has_primary").fill_null(False))

    def _addon(self, ln: pl.DataFrame) -> pl.DataFrame:
        cand = ln.filter(pl.col("aoc_row").is_not_null()
                         & ~(pl.col("has_primary") & (pl.col("first_type") != "2")))

        def make(r: dict, text: dict) -> Iterator[Finding | None]:
            yield addon.finding(Line(0, r["code"]), text["day"], self.facts.addon(r["code"], r["day"]),
                                r["has_primary"])

        return self._per_key(cand, ["code", "aoc_rid", "aoc_epoch", "has_primary"], make, pl.concat_list("line"),
                             fields=("day",))

    def _ptp(self, ln: pl.DataFrame) -> pl.DataFrame:
        kb = self.kb
        releases = kb.releases.get("ptp_practitioner", [])
        # each line's NCCI-associated modifiers (sorted text) by a small number, so that pairs carry numbers only
        texts = ln["ncci"].unique().sort().to_list()
        side = ln.filter(pl.col("ptp_ix").is_not_null()).select(
            "cid", "day", "ptp_ix", "line", "code",
            t=pl.col("ncci").replace_strict({t: i for i, t in enumerate(texts)}, return_dtype=pl.Int64))
        on = pl.col("day").dt.year() * 10000 + pl.col("day").dt.month() * 100 + pl.col("day").dt.day()
        parts = []
        for ix in side["ptp_ix"].unique().to_list():
            codes, edits = tables.ptp(kb, releases[ix].store)
            numbered = side.filter(pl.col("ptp_ix") == ix).join(codes, on="code").drop("code")
            if numbered.is_empty():  # no code of these lines is in the PTP file (an unknown or new code)
                continue
            # lines grouped by (claim, day, code, NCCI modifiers): pairs of groups with one integer
            # key each are joined with the edits, then expanded to pairs of their lines
            groups = numbered.group_by("cid", "day", "ix", "t").agg(pl.col("line"))
            pairs = (groups.join(groups.select("cid", "day", line_b="line", ix_b="ix", t_b="t"), on=["cid", "day"])
                     .filter(pl.col("ix") != pl.col("ix_b"))
                     .select("cid", "day", "line", "line_b", "ix", "ix_b", "t", "t_b",
                             key=pl.col("ix") * (1 << tables.PTP_SHIFT) + pl.col("ix_b")))
            hit = (pairs.join(self._live_edits(ix, edits, numbered["day"].min()), on="key")
                   .filter(ncci.in_force_expr(on))
                   .sort("ptp_row").unique(["cid", "day", "ix", "t", "ix_b", "t_b"], keep="first", maintain_order=True)
                   .explode("line").explode("line_b").with_columns(ptp_ix=pl.lit(ix, dtype=pl.Int64)))
            names = codes["code"]  # (ix is the row number)
            parts.append(hit.with_columns(code=names.gather(hit["ix"]), code_b=names.gather(hit["ix_b"])))
        if not parts:
            return pl.DataFrame(schema=FINDING_SCHEMA)
        hits = pl.concat(parts)
        # the modifiers only count where the indicator is 1 (ptp.pair_finding decides which do)
        named = pl.DataFrame({"t": range(len(texts)), "ncci": texts}, schema={"t": pl.Int64, "ncci": pl.String})
        one = pl.col("modifier") == 1
        hits = (hits.join(named, on="t", how="left").join(named.rename({"t": "t_b", "ncci": "ncci_b"}), on="t_b",
                                                          how="left")
                .with_columns(ncci=pl.when(one).then(pl.col("ncci")).otherwise(pl.lit("")),
                              ncci_b=pl.when(one).then(pl.col("ncci_b")).otherwise(pl.lit("")),
                              em_a=_is_em(pl.col("code")), em_b=_is_em(pl.col("code_b"))))

        def make(r: dict, text: dict) -> Iterator[Finding]:
            release = releases[r["ptp_ix"]]
            a, b = text["code"], text["code_b"]
            edit = {"modifier": r["modifier"], "citation": citation(release.files[0], row=f"{a}/{b}"),
                    "rationale": kb.ptp_rationales(release.store).get(r["rationale_id"], "")}
            yield ptp.pair_finding(Line(0, a, tuple(r["ncci"].split())), Line(0, b, tuple(r["ncci_b"].split())), edit,
                                   (r["em_a"], r["em_b"]))

        return self._per_key(hits, ["ptp_ix", "modifier", "rationale_id", "ncci", "ncci_b", "em_a", "em_b"], make,
                             pl.concat_arr("line_b", "line").arr.to_list(), fields=("code", "code_b"))

    def _live_edits(self, ix: int, edits: pl.DataFrame, first_day: date) -> pl.DataFrame:
        """The edits still in force on the first of January of ``first_day``'s year or later (a
        third of the table is history; ``ncci.in_force`` does the exact test)."""
        day = first_day.year * 10000 + 101
        with self._lock:
            key = ("ptp", ix, day)
            if key not in self._kept:
                self._kept[key] = edits.filter(pl.col("deleted").is_null() | (pl.col("deleted") >= day))
            return self._kept[key]

    def _mue(self, ln: pl.DataFrame) -> pl.DataFrame:
        limits = tables.mue(self.facts, _ids(ln, "mue_rid"))
        m = ln.select("cid", "line", "code", "day", "units", "mue_rid").join(limits, on=["mue_rid", "code"])

        def make(r: dict, text: dict) -> Iterator[Finding]:
            limit = dict(self.facts.mue(r["code"], r["day"]))  # the same for every code of the key
            limit["citation"] = replace(limit["citation"], row=text["code"], line=None)
            yield mue.exceeded(text["code"], text["day"], limit, r["units"], ())

        per_line = m.filter((pl.col("mai") == "1") & (pl.col("units") > pl.col("mue_units")))
        daily = m.filter(pl.col("mai") != "1")
        # sum first (a few plain columns), then gather lines and limits only for the days over
        over = (daily.group_by("cid", "code", "day").agg(pl.col("units").sum(), pl.col("mue_units").first())
                .filter(pl.col("units") > pl.col("mue_units")).drop("mue_units"))
        per_day = (daily.join(over.select("cid", "code", "day"), on=["cid", "code", "day"], how="semi")
                   .group_by("cid", "code", "day")
                   .agg(pl.col("line").sort().alias("lines"),
                        *(pl.col(c).first() for c in ("mue_units", "mai", "rationale", "mue_rid", "mue_line")))
                   .join(over, on=["cid", "code", "day"]))
        keys = ["mue_rid", "mue_units", "mai", "rationale", "units"]
        return pl.concat([
            self._per_key(per_line, keys, make, pl.concat_list("line"), ("code", "day"), "mue_line"),
            self._per_key(per_day, keys, make, pl.col("lines"), ("code", "day"), "mue_line")])

    def _modifiers(self, ln: pl.DataFrame) -> pl.DataFrame:
        # a line whose modifier breaks an indicator's rule (rules.INDICATOR_RULES), any value
        misfit = [pl.col(f"m{m}") & pl.col(field).is_in(
            [v for v, rule in values.items() if rule.verdicts[m] != rules.ALLOWED]).fill_null(False)
            for field, values in rules.INDICATOR_RULES.items() for m in rules.INDICATOR_MODIFIERS[field]]
        cand = ln.filter(pl.col("mkey") != "").filter(
            pl.any_horizontal(pl.col("m_unknown"), pl.col("m25") & ~_is_em(pl.col("code")),
                              pl.col("m51") & pl.col("aoc_row").is_not_null(), *misfit,
                              pl.col("status").is_null())  # no row: maybe a modifier row (judged_row)
        ).with_columns(aoc_key=pl.col("aoc_row").fill_null(-1))

        def make(r: dict) -> Iterator[Finding]:
            return modifiers.line_findings(self.facts, Line(0, r["code"], tuple(r["mkey"].split())), r["day"])

        return self._per_key(cand, ["code", "mkey", "pfs_rid", "aoc_key"], make, pl.concat_list("line"))

    def _siblings(self, ln: pl.DataFrame) -> pl.DataFrame:
        families = vocab.code_families()
        members = pl.DataFrame([(c, fam) for fam, (codes, _) in families.items() for c in codes],
                               schema={"code": pl.String, "family": pl.String}, orient="row")
        rows = ln.select("cid", "line", "code", "day").join(members, on="code")
        # lists only for the days that bill two codes of a family (few)
        group = ["cid", "family", "day"]
        rows = rows.join(rows.group_by(group).agg(pl.col("code").n_unique().alias("n")).filter(pl.col("n") > 1),
                         on=group, how="semi")
        groups = (rows.group_by(group)
                  .agg(pl.col("code").unique().sort().alias("codes"), pl.col("line").sort().alias("lines"))
                  .with_columns(codes_key=pl.col("codes").list.join(" ")))

        def make(r: dict) -> Iterator[Finding]:
            yield siblings.conflict(r["family"], families[r["family"]][1], r["codes_key"].split(), r["day"], ())

        return self._per_key(groups, ["family", "codes_key", "day"], make, pl.col("lines"))

    def _pointers(self, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
        count = c.select("cid", pl.col("dx").list.len().alias("count"))
        x = ln.select("cid", "line", "code", "ptrs").join(count, on="cid")
        bad = (x.explode("ptrs").filter((pl.col("ptrs") < 1) | (pl.col("ptrs") > pl.col("count")))
               .select("cid", "line").unique())
        cand = pl.concat([x.filter(pl.col("ptrs").list.len() == 0), x.join(bad, on=["cid", "line"])]).unique(
            ["cid", "line"]).with_columns(ptrs_key=pl.col("ptrs").cast(pl.List(pl.String)).list.join(" "))

        def make(r: dict) -> Iterator[Finding]:
            return diagnosis.pointer_findings(r["line"], r["code"], tuple(map(int, r["ptrs_key"].split())),
                                              r["count"])

        return self._per_key(cand, ["line", "code", "ptrs_key", "count"], make, pl.concat_list("line"))

    def _excludes1(self, c: pl.DataFrame) -> pl.DataFrame:
        # each distinct diagnosis of a claim once (diagnosis.excludes1_findings)
        dx = _dx(c).unique(["cid", "dx"])
        ranges = tables.excludes1_ranges(self.facts, _ids(c, "icd_rid"))
        # a reference's range has a row per category it reaches: joining on the claim and the
        # category leaves few pairs to test
        other = dx.select("cid", dx_o="dx", c_o="compact", cat=pl.col("compact").str.slice(0, 3))
        refs = dx.join(ranges, on=["compact", "icd_rid"])
        c_o, high = pl.col("c_o"), pl.col("high")
        pairs = (refs.join(other, on=["cid", "cat"])
                 .filter((pl.col("dx") != pl.col("dx_o")) & (c_o >= pl.col("low"))
                         & ((c_o <= high) | c_o.str.starts_with(high)))  # facts.in_excludes1_range
                 .unique(["cid", "dx", "dx_o"]))

        def make(r: dict) -> Iterator[Finding | None]:
            f, g = self.facts.icd(r["dx"], r["cdate"]), self.facts.icd(r["dx_o"], r["cdate"])
            yield diagnosis.excludes1(f, g) if f and g else None

        return self._per_key(pairs, ["dx", "dx_o", "icd_rid"], make, pl.lit([], dtype=pl.List(pl.Int64)))

    # --- repricing ----------------------------------------------------------------------------

    # --- per-claim results into frames -----------------------------------------------------------

    def _from_checked(self, results: list[tuple[int, CheckedClaim]]) -> tuple[pl.DataFrame, ...]:
        claims = pl.DataFrame([(cid, r.id, r.total_allowed, r.at_risk, r.locality, list(r.notices))
                               for cid, r in results], schema=OUT_CLAIM_SCHEMA, orient="row")
        lines = pl.DataFrame([(cid, x.line, x.code, list(x.modifiers), None if x.units is None else float(x.units),
                               x.setting, x.rate, list(x.adjustments), x.allowed, x.denied)
                              for cid, r in results for x in r.lines], schema=OUT_LINE_SCHEMA, orient="row")
        found = pl.DataFrame([(cid, list(f.lines), f.id, f.severity, f.message, f.fix, *self._cite(f.citation))
                              for cid, r in results for f in r.findings], schema=FINDING_SCHEMA, orient="row")
        return claims, lines, found


def merge(results: list[BatchResult]) -> BatchResult:
    """One result from results with their own citation lists (pieces checked apart)."""
    cites: list[Citation] = []
    index: dict[Citation, int] = {}
    parts = []
    for r in results:
        remap = {}
        for i, c in enumerate(r.cites):
            if c not in index:
                index[c] = len(cites)
                cites.append(c)
            remap[i] = index[c]
        parts.append(r.findings.with_columns(pl.col("cite").replace_strict(remap, default=None, return_dtype=pl.Int64)))
    return _result([(r.claims, r.lines, found) for r, found in zip(results, parts)], cites)


def _result(parts: list[tuple[pl.DataFrame, ...]], cites: list[Citation]) -> BatchResult:
    """(claims, lines, findings) frames of pieces as one result, in claim, line and finding order."""
    if not parts:
        return BatchResult(pl.DataFrame(schema=OUT_CLAIM_SCHEMA), pl.DataFrame(schema=OUT_LINE_SCHEMA),
                           pl.DataFrame(schema=FINDING_SCHEMA), cites)
    if len(parts) == 1:  # its claims and lines are in order already
        return BatchResult(parts[0][0], parts[0][1], _order(parts[0][2]), cites)
    return BatchResult(pl.concat([p[0] for p in parts]).sort("cid"),
                       pl.concat([p[1] for p in parts]).sort("cid", "line"),
                       _order(pl.concat([p[2] for p in parts])), cites)


def check_file(kb: KnowledgeBase, path: str, fmt: str | None = None, checker: BatchChecker | None = None,
               chunk_lines: int = 200_000) -> Iterator[BatchResult]:
    """Results for a claim file, about ``chunk_lines`` lines at a time, in file order; the
    pieces are checked ``MEDCODE_BATCH_THREADS`` (default 3) at a time in threads."""
    from medcode.claims.batch.inputs import claim_frames, csv_pieces, first_csv_date, piece_frames
    from medcode.claims.files import detect_format, read_path

    fmt = fmt or detect_format(path)
    checker = checker or BatchChecker(kb)
    threads = max(1, int(os.environ.get("MEDCODE_BATCH_THREADS", "3")))
    # about 80 bytes a row, in a multiple of the threads so that none waits idle at the end
    pieces = -(-os.path.getsize(path) // (chunk_lines * 80)) if fmt == "csv" else 0
    cut = csv_pieces(path, pieces=-(-pieces // threads) * threads) if pieces else None
    if cut is not None:
        header, bounds = cut

        def piece(i: int) -> BatchResult:
            start, end, first_line = bounds[i]
            with open(path, "rb") as fh:
                fh.seek(start)
                return checker.check_piece(i, piece_frames(path, header, fh.read(end - start), first_line))

        # the reference tables of the first date load while the first pieces are read
        day = first_csv_date(path)
        warm = threading.Thread(target=checker.warm, args=(day,), daemon=True)
        if day is not None:
            warm.start()
        # several pieces at a time: Polars runs many steps on one core, and wording holds the GIL
        try:
            with ThreadPoolExecutor(threads) as pool:
                ahead: deque[Future[BatchResult]] = deque()
                for i in range(len(bounds)):
                    ahead.append(pool.submit(piece, i))
                    if len(ahead) > threads:
                        yield ahead.popleft().result()
                while ahead:
                    yield ahead.popleft().result()
        finally:
            if warm.is_alive():
                warm.join()
        return
    # other formats are read claim by claim in this thread (Python) while other threads check
    # the chunks read so far (mostly Polars, which lets go of the GIL)
    with ThreadPoolExecutor(threads) as pool:
        ahead = deque()
        from medcode.claims.batch.x12_frames import x12_frames  # (837P in bulk, about 150 characters a line)

        frames = (x12_frames(path, min(chunk_lines, 100_000) * 150) if fmt == "x12"
                  else claim_frames(read_path(path, fmt), min(chunk_lines, 100_000)))
        for claims, lines, slow in frames:
            ahead.append(pool.submit(checker.check, claims, lines, slow))
            if len(ahead) > threads:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _is_em(code: pl.Expr) -> pl.Expr:
    """``rules.is_em`` of a column of codes."""
    return (code.str.contains(r"^[0-9]{5}$")
            & code.str.to_integer(strict=False).is_between(rules.EM_FIRST, rules.EM_LAST)).fill_null(False)


def _split(text: pl.Expr, sep: str) -> pl.Expr:
    """Text as a list of its ``sep``-separated parts, the empty text as the empty list."""
    return pl.when(text == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(text.str.split(sep))


def _ids(df: pl.DataFrame, col: str) -> list[int]:
    return df[col].drop_nulls().unique().to_list()


def _dx(c: pl.DataFrame) -> pl.DataFrame:
    """One row per diagnosis of each claim, with its 1-based position."""
    return (c.select("cid", "cdate", "icd_rid", "dx", i=pl.int_ranges(1, pl.col("dx").list.len() + 1))
            .explode("dx", "i").filter(pl.col("dx").is_not_null())
            .with_columns(compact=pl.col("dx").str.replace_all(".", "", literal=True)))


def _order(findings: pl.DataFrame) -> pl.DataFrame:
    """The per-claim engine's order: severity, first line, id, lines, message."""
    lines = pl.col("lines")
    # lines compare as tuples do: element by element, a shorter list first where it is a prefix
    # (-1 for a missing element); findings name one to four lines but for MUE days
    if (findings.select(lines.list.len().max()).item() or 0) <= 4:
        by = [lines.list.get(k, null_on_oob=True).fill_null(-1).alias(f"_l{k}") for k in range(1, 4)]
    else:
        by = [lines.cast(pl.List(pl.String)).list.eval(pl.element().str.zfill(9)).list.join(" ").alias("_l1")]
    return (findings.with_columns(
        pl.col("sev").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8).alias("_sev"),
        lines.list.first().fill_null(0).alias("_first"), *by)
        .sort("cid", "_sev", "_first", "fid", *(e.meta.output_name() for e in by), "msg")
        .drop("_sev", "_first", *(e.meta.output_name() for e in by)))
