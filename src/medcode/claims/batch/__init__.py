"""The batch engine: the claim checks as joins over whole files (Polars), with the same findings,
allowed amounts and notices as the per-claim engine (``medcode.claims.Checker``).

How it stays identical:

- The joins only find *candidates*: lines, pairs or groups where a check may have something to
  say. That part is a superset by construction (for example, every pair of lines on one date
  that has a PTP edit in force, whatever its modifiers).
- Each check module of ``medcode.claims.CHECKS`` holds both forms of its check side by side: the
  per-claim ``check`` and the batch form ``batch(bc, ln, c)`` (its candidates as a findings
  frame), so that a rule cannot be added to one engine only; this module runs every ``batch``
  over the claims (``c``) and lines (``ln``) frames and keeps the orchestration.
- The words of a finding come from the same functions the per-claim checks call
  (``validity.line_findings``, ``ptp.pair_finding`` ...), called once per distinct key (code,
  release, modifiers ...) rather than once per line (``BatchChecker.per_key``), and joined back
  to every line with that key.
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
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from medcode import rules
from medcode.claims.batch import tables
from medcode.claims.batch.frames import (  # noqa: F401  (the batch engine's names, as they were)
    CLAIM_SCHEMA,
    FINDING_SCHEMA,
    FOUND_SCHEMA,
    LINE_SCHEMA,
    OUT_CLAIM_SCHEMA,
    OUT_LINE_SCHEMA,
    SEVERITY_RANK,
    BatchResult,
    Schema,
    _dx,
    _ids,
    _is_em,
    _order,
    _result,
    _split,
    checked_frames,
    merge,
)
from medcode.claims.checks import diagnosis, releases
from medcode.claims.model import CheckedClaim, Finding
from medcode.claims.readers import ClaimInputError
from medcode.kb import ncci
from medcode.kb.models import Citation
from medcode.kb.store import KnowledgeBase
from medcode.rules import ASSISTANT_SHARE

if TYPE_CHECKING:
    from medcode.claims import Checker

log = logging.getLogger(__name__)

# the modifiers a check asks about by name: 25, 51 and those the PFS indicators govern
FLAGGED = ("25", "51", *dict.fromkeys(m for mods in rules.INDICATOR_MODIFIERS.values() for m in mods))
MODIFIER_FLAGS: Schema = {
    "mkey": pl.String,
    "m_unknown": pl.Boolean,
    **{f"m{m}": pl.Boolean for m in FLAGGED},
    "m_assistant": pl.Boolean,
    "assistant_mod": pl.String,
    "want_mod": pl.String,
    "ncci": pl.String,
}
PIECE_STRIDE = 1 << 32  # claim ids of piece i of a file start at i * PIECE_STRIDE


class BatchChecker:
    """Checks many claims at once. ``check(claims, lines, slow)`` takes the claims the fast path
    models as frames (``CLAIM_SCHEMA``, ``LINE_SCHEMA``) and the rest as ``(cid, Claim)`` pairs."""

    def __init__(self, kb: KnowledgeBase, checker: Checker | None = None):
        self.kb = kb
        from medcode.claims import Checker  # (it imports the check modules, which import this one)

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
            with self._lock:  # (pieces are checked in threads: one number per citation)
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
        return self.check(
            claims.with_columns(pl.col("cid") + offset),
            lines.with_columns(pl.col("cid") + offset),
            [(cid + offset, claim) for cid, claim in slow],
        )

    def _fast(self, claims: pl.DataFrame, lines: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
        days = self._days(pl.concat([lines["ldate"].drop_nulls(), claims["cdate"].drop_nulls()]).unique().to_list())
        c = claims.join(days.select(pl.col("day").alias("cdate"), "icd_rid"), on="cdate", how="left")
        ln = (
            lines.join(claims.select("cid", "cdate"), on="cid")
            .with_columns(day=pl.coalesce("ldate", "cdate"))
            .join(days, on="day", how="left")
        )
        ln = ln.join(self._modifier_table(ln["mkey"]), on="mkey", how="left")
        ln = self._pfs_rows(ln, tables.pfs(self.facts, _ids(days, "pfs_rid")))
        ln = self._addon_rows(ln)
        from medcode.claims import CHECKS

        # each check module has its batch form (``batch``) beside its per-claim ``check``
        found = [module.batch(self, ln, c) for module in CHECKS]
        findings = pl.concat([f.select(list(FINDING_SCHEMA)) for f in found])
        from medcode.claims.batch.reprice import reprice  # it imports this module

        out_claims, out_lines = reprice(self, c, ln, findings)
        # the release notices of each claim ahead of the pricing ones, as the per-claim engine lists them
        out_claims = (
            out_claims.join(releases.batch_notices(self.kb, c, ln), on="cid", how="left")
            .with_columns(notices=pl.concat_list(pl.col("release_notes").fill_null([]), "notices"))
            .drop("release_notes")
        )
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
                rows.append(
                    (
                        key,
                        any(m not in self.facts.modifiers for m in mods),
                        *(m in has for m in FLAGGED),
                        bool(has & rules.ASSISTANT_MODIFIERS),
                        next((m for m in ASSISTANT_SHARE if m in has), None),
                        rules.pfs_modifier(mods),
                        " ".join(sorted(has & rules.PTP_MODIFIERS)),
                    )
                )
            found = pl.DataFrame(rows, schema=MODIFIER_FLAGS, orient="row")
            known = found if known is None else pl.concat([known, found])
            self._kept["modifiers"] = known
            return known

    @staticmethod
    def _pfs_rows(ln: pl.DataFrame, pfs: pl.DataFrame) -> pl.DataFrame:
        """Each line's PFS indicators from the row ``Facts.pfs`` picks: the row of its 26, TC or 53
        modifier (``want_mod``) where the file has one (``row_mod``), else the code's own row."""
        own = pfs.filter(pl.col("row_mod") != "").select("pfs_rid", "code", want_mod="row_mod", _own=pl.lit(True))
        return (
            ln.join(own, on=["pfs_rid", "code", "want_mod"], how="left")
            .with_columns(row_mod=pl.when(pl.col("_own")).then(pl.col("want_mod")).otherwise(pl.lit("")))
            .drop("_own")
            .join(pfs, on=["pfs_rid", "code", "row_mod"], how="left")
        )

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
            for family, col in (
                ("pprrvu", "pfs_rid"),
                ("aoc", "aoc_rid"),
                ("mue_practitioner", "mue_rid"),
                ("gpci", "gpci_rid"),
                ("zip5", "zip_rid"),
                ("locality", "loc_rid"),
                ("oppscap", "cap_rid"),
                ("icd10cm", "icd_rid"),
                ("hcpcs", "hcpcs_rid"),
            ):
                row[col] = self.facts._release(family, day)
            r = kb.resolve("ptp_practitioner", day)
            row["ptp_ix"] = ptp_releases.index(r.release) if r else None
            p, cap = kb.resolve("pprrvu", day), kb.resolve("oppscap", day)
            row["cap_on"] = bool(p and cap and cap.release.effective_from.year == p.release.effective_from.year)
            rows.append(row)
        schema = {
            "day": pl.Date,
            **{
                k: pl.Int64
                for k in (
                    "pfs_rid",
                    "aoc_rid",
                    "mue_rid",
                    "gpci_rid",
                    "zip_rid",
                    "loc_rid",
                    "cap_rid",
                    "icd_rid",
                    "hcpcs_rid",
                    "ptp_ix",
                )
            },
            "cap_on": pl.Boolean,
        }
        return pl.DataFrame(rows, schema=schema)

    def per_key(
        self,
        df: pl.DataFrame,
        keys: list[str],
        make: Callable[..., Iterable[Finding | None]],
        lines: pl.Expr,
        fields: tuple[str, ...] = (),
        cite_line: str | None = None,
    ) -> pl.DataFrame:
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

    _per_key = per_key

    def _word(
        self,
        df: pl.DataFrame,
        keys: list[str],
        make: Callable[..., Iterable[Finding | None]],
        fields: tuple[str, ...],
        text: dict[str, str],
        site: tuple,
        key_schema: dict,
    ) -> pl.DataFrame:
        """The findings of every distinct key of ``df``, worded once per file (see ``_per_key``)."""
        seen, found = self._worded.get(site) or (
            pl.DataFrame(schema=key_schema),
            pl.DataFrame(schema={**key_schema, **FOUND_SCHEMA}),
        )
        uniq = df.select(keys).unique(keep="first", maintain_order=True)
        if not seen.is_empty():
            uniq = uniq.join(seen, on=keys, how="anti", nulls_equal=True)
        if not uniq.is_empty():
            rows = df.join(uniq, on=keys, how="semi", nulls_equal=True).unique(
                subset=keys, keep="first", maintain_order=True
            )
            cols: dict[str, list] = {k: [] for k in (*keys, *FOUND_SCHEMA)}
            for row in rows.iter_rows(named=True):
                for f in make(row, text) if fields else make(row):
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

    def _addon_rows(self, ln: pl.DataFrame) -> pl.DataFrame:
        """Marks add-on lines: the first edit row in force (``aoc_row``) and whether a primary
        code of theirs is billed on another line of the same date."""
        aoc = tables.aoc(self.facts, _ids(ln, "aoc_rid"))
        # the lines of add-on codes, with their day as the text the edits' dates compare with
        addons = (
            ln.select("cid", "line", "day", "aoc_rid", "code")
            .join(aoc.select("aoc_rid", "code").unique(), on=["aoc_rid", "code"], how="semi")
            .with_columns(iso=pl.col("day").dt.to_string("%Y-%m-%d"))
        )
        live = addons.join(aoc, on=["aoc_rid", "code"]).filter(ncci.in_force_expr(pl.col("iso")))
        others = ln.select("cid", "day", pl.col("line").alias("other"), pl.col("code").alias("primary"))
        with_primary = (
            live.filter(pl.col("primary") != ncci.NO_PRIMARY_LIST)
            .join(others, on=["cid", "day", "primary"])
            .filter(pl.col("other") != pl.col("line"))
            .select("cid", "line")
            .unique()
            .with_columns(has_primary=pl.lit(True))
        )
        first = (
            live.sort("aoc_row")
            .group_by("cid", "line")
            .agg(pl.col("aoc_row").first(), pl.col("edit_type").first().alias("first_type"))
        )
        # the edits in force change only on their effective dates and the day after their deletion
        # dates, so the number of those days up to the day names the set in force (one wording
        # serves its days)
        epoch = (
            addons.join(first.select("cid", "line"), on=["cid", "line"])
            .join(tables.aoc_changes(self.facts, _ids(ln, "aoc_rid")), on=["aoc_rid", "code"])
            .group_by("cid", "line")
            .agg(
                aoc_epoch=pl.when(pl.col("out"))
                .then(pl.col("date") < pl.col("iso"))
                .otherwise(pl.col("date") <= pl.col("iso"))
                .sum()
            )
        )
        marks = (
            first.join(with_primary, on=["cid", "line"], how="left")
            .join(epoch, on=["cid", "line"], how="left")
            .with_columns(pl.col("aoc_epoch").fill_null(0))
        )
        return ln.join(marks, on=["cid", "line"], how="left").with_columns(pl.col("has_primary").fill_null(False))

    def _live_edits(self, ix: int, edits: pl.DataFrame, first_day: date) -> pl.DataFrame:
        """The edits still in force on the first of January of ``first_day``'s year or later (a
        third of the table is history; ``ncci.in_force`` does the exact test)."""
        day = first_day.year * 10000 + 101
        with self._lock:
            key = ("ptp", ix, day)
            if key not in self._kept:
                self._kept[key] = edits.filter(pl.col("deleted").is_null() | (pl.col("deleted") >= day))
            return self._kept[key]

    def _excludes1(self, c: pl.DataFrame) -> pl.DataFrame:
        # each distinct diagnosis of a claim once (diagnosis.excludes1_findings)
        dx = _dx(c).unique(["cid", "dx"])
        ranges = tables.excludes1_ranges(self.facts, _ids(c, "icd_rid"))
        # a reference's range has a row per category it reaches: joining on the claim and the
        # category leaves few pairs to test
        other = dx.select("cid", dx_o="dx", c_o="compact", cat=pl.col("compact").str.slice(0, 3))
        refs = dx.join(ranges, on=["compact", "icd_rid"])
        c_o, high = pl.col("c_o"), pl.col("high")
        pairs = (
            refs.join(other, on=["cid", "cat"])
            .filter(
                (pl.col("dx") != pl.col("dx_o")) & (c_o >= pl.col("low")) & ((c_o <= high) | c_o.str.starts_with(high))
            )  # facts.in_excludes1_range
            .unique(["cid", "dx", "dx_o"])
        )

        def make(r: dict) -> Iterator[Finding | None]:
            f, g = self.facts.icd(r["dx"], r["cdate"]), self.facts.icd(r["dx_o"], r["cdate"])
            yield diagnosis.excludes1(f, g) if f and g else None

        return self._per_key(pairs, ["dx", "dx_o", "icd_rid"], make, pl.lit([], dtype=pl.List(pl.Int64)))

    # --- repricing ----------------------------------------------------------------------------

    # --- per-claim results into frames -----------------------------------------------------------

    def _from_checked(self, results: list[tuple[int, CheckedClaim]]) -> tuple[pl.DataFrame, ...]:
        return checked_frames(results, self._cite)


def check_file(
    kb: KnowledgeBase,
    path: str,
    fmt: str | None = None,
    checker: BatchChecker | None = None,
    chunk_lines: int = 200_000,
) -> Iterator[BatchResult]:
    """Results for a claim file, about ``chunk_lines`` lines at a time, in file order; the
    pieces are checked ``MEDCODE_BATCH_THREADS`` (default 3) at a time in threads."""
    from medcode.claims.batch.inputs import claim_frames, csv_pieces, first_csv_date, piece_frames
    from medcode.claims.files import detect_format, read_path

    fmt = fmt or detect_format(path)
    try:  # a missing file, a folder or no permission: said like the per-claim reader says it
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ClaimInputError(path, exc.strerror or str(exc)) from None
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

        frames = (
            x12_frames(path, min(chunk_lines, 100_000) * 150)
            if fmt == "x12"
            else claim_frames(read_path(path, fmt), min(chunk_lines, 100_000))
        )
        for claims, lines, slow in frames:
            ahead.append(pool.submit(checker.check, claims, lines, slow))
            if len(ahead) > threads:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
