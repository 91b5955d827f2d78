"""Checked claims as report records, built from the batch engine's frames (``BatchResult``)
with Polars, and read back: the part of the reports that never makes a Python object per claim.

A report record is one claim: its id, amounts, locality, setting and notices, its findings and
its priced lines (docs/claims.md, "Report"). A finding's citation names its source (the file and
release) by number in the report's list of sources, with the row and line of that file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import polars as pl

from medcode.claims.batch import BatchResult
from medcode.claims.batch.frames import checked_frames
from medcode.claims.model import CheckedClaim, Finding, PricedLine
from medcode.kb.models import Citation

SOURCE_FIELDS = ("family", "release", "file", "effective_from", "effective_to", "sha256")
SOURCE_SCHEMA = {
    "cite": pl.Int64,
    "family": pl.String,
    "release": pl.String,
    "file": pl.String,
    "effective_from": pl.Date,
    "effective_to": pl.Date,
    "sha256": pl.String,
}
# a cell that a spreadsheet would read as a formula (or a command: tab and carriage return)
FORMULA_START = r"^[=+\-@\t\r]"


def frames_of(results: Sequence[CheckedClaim]) -> BatchResult:
    """Checked claims (the per-claim engine's) as the batch engine's frames."""
    cites: list[Citation] = []
    index: dict[Citation, int] = {}

    def cite(c: Citation | None) -> tuple[int | None, str | None, int | None]:
        if c is None:
            return None, None, None
        key = replace(c, row=None, line=None)
        ix = index.get(key)
        if ix is None:
            ix = index[key] = len(cites)
            cites.append(key)
        return ix, c.row, c.line

    claims, lines, found = checked_frames(enumerate(results), cite)
    return BatchResult(claims, lines, found, cites)


def slices(piece: BatchResult, claims: int) -> Iterator[BatchResult]:
    """The piece in parts of at most ``claims`` claims each, with their lines and findings (all
    three frames are in claim order), so that a writer's work in progress stays small."""
    if piece.claims.height <= claims:
        yield piece
        return
    cids = piece.claims["cid"]
    for start in range(0, piece.claims.height, claims):
        part = piece.claims.slice(start, claims)
        low, high = part["cid"][0], part["cid"][-1]
        frames = []
        for frame in (piece.lines, piece.findings):
            col = frame["cid"]
            a = col.search_sorted(low, "left") if start else 0
            b = col.search_sorted(high, "right") if start + claims < cids.len() else frame.height
            frames.append(frame.slice(a, b - a))
        yield BatchResult(part, frames[0], frames[1], piece.cites)


class Sources:
    """The citations' sources of a report, numbered as they first come (pieces of a file each
    number their own: ``renumber`` maps a piece's numbers to the report's)."""

    def __init__(self) -> None:
        self.list: list[Citation] = []
        self._index: dict[Citation, int] = {}

    def renumber(self, piece: BatchResult) -> pl.DataFrame:
        """The piece's findings with ``cite`` in the report's numbers, new sources numbered in the
        order the findings first cite them (the same whichever engine made the piece)."""
        remap = {}
        for i in piece.findings["cite"].drop_nulls().unique(maintain_order=True).to_list():
            key = replace(piece.cites[i], row=None, line=None)
            if key not in self._index:
                self._index[key] = len(self.list)
                self.list.append(key)
            remap[i] = self._index[key]
        if all(k == v for k, v in remap.items()):
            return piece.findings
        return piece.findings.with_columns(pl.col("cite").replace_strict(remap, default=None, return_dtype=pl.Int64))

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [(i, *(getattr(c, f) for f in SOURCE_FIELDS)) for i, c in enumerate(self.list)],
            schema=SOURCE_SCHEMA,
            orient="row",
        )


class Texts:
    """Texts that repeat across claims (notices, fixes), numbered as they first come: a report
    writes each once and refers to it by number."""

    def __init__(self) -> None:
        self.list: list[str] = []
        self._index: dict[str, int] = {}

    def numbers(self, values: pl.Series) -> tuple[list[str], list[int]]:
        """(texts, their numbers) for the distinct texts of ``values``, numbering new ones in the
        order they come."""
        texts = values.drop_nulls().unique(maintain_order=True).to_list()
        for t in texts:
            if t not in self._index:
                self._index[t] = len(self.list)
                self.list.append(t)
        return texts, [self._index[t] for t in texts]

    def number(self, piece: BatchResult, findings: pl.DataFrame) -> tuple[BatchResult, pl.DataFrame]:
        """The piece's claim notices and the findings' fixes as numbers: new texts are numbered
        claim by claim, its notices then its fixes (however the file was cut into pieces)."""
        notices = piece.claims.select("cid", text="notices", kind=pl.lit(0, pl.Int8)).explode("text")
        fixes = findings.select("cid", text="fix", kind=pl.lit(1, pl.Int8))
        old, new = self.numbers(pl.concat([notices, fixes]).sort("cid", "kind", maintain_order=True)["text"])
        claims = piece.claims.with_columns(
            pl.col("notices").list.eval(pl.element().replace_strict(old, new, return_dtype=pl.Int64))
        )
        findings = findings.with_columns(pl.col("fix").replace_strict(old, new, return_dtype=pl.Int64))
        return BatchResult(claims, piece.lines, findings, piece.cites), findings


def source_record(c: Citation) -> dict[str, Any]:
    return {f: getattr(c, f) for f in SOURCE_FIELDS}


def claim_records(
    piece: BatchResult, findings: pl.DataFrame, citation: pl.Expr | None = None, float_units: bool = False
) -> pl.DataFrame:
    """One row per claim, in file order: ``id``, ``total_allowed``, ``at_risk``, ``locality``,
    ``setting``, ``notices``, ``findings`` (a list of structs) and ``lines`` (a list of structs).
    ``citation`` is the expression of a finding's citation (default ``{source, row, line}``);
    units are whole numbers where every line of the piece has whole units, unless ``float_units``."""
    ln = piece.lines
    units = pl.col("units")
    if not float_units and ln.select((units.is_null() | (units == units.round(0))).all()).item() is not False:
        units = units.cast(pl.Int64)
    if citation is None:
        citation = pl.when(pl.col("cite").is_not_null()).then(
            pl.struct(source="cite", row="cite_row", line="cite_line")
        )
    per_line = ln.group_by("cid", maintain_order=True).agg(
        pl.col("setting").first(),
        pl.struct("line", "code", "modifiers", units.alias("units"), "rate", "adjustments", "allowed", "denied").alias(
            "lines"
        ),
    )
    per_finding = findings.group_by("cid", maintain_order=True).agg(
        pl.struct(id="fid", severity="sev", lines="lines", message="msg", fix="fix", citation=citation).alias(
            "findings"
        )
    )
    out = piece.claims.join(per_finding, on="cid", how="left", maintain_order="left").join(
        per_line, on="cid", how="left", maintain_order="left"
    )
    return out.select(
        id="claim_id",
        total_allowed="total_allowed",
        at_risk="at_risk",
        locality="locality",
        setting="setting",
        notices="notices",
        findings=pl.col("findings").fill_null(pl.lit([], dtype=out.schema["findings"])),
        lines=pl.col("lines").fill_null(pl.lit([], dtype=out.schema["lines"])),
    )


def escape_cell(column: str) -> pl.Expr:
    """A text cell as spreadsheet tools read it safely: one that starts with = + - @, a tab or a
    carriage return gets a leading apostrophe (so ``=HYPERLINK(...)`` stays text)."""
    c = pl.col(column)
    return pl.when(c.str.contains(FORMULA_START)).then(pl.lit("'") + c).otherwise(c).alias(column)


def csv_rows(piece: BatchResult, findings: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """One row per finding (``report.CSV_HEADER``), cells escaped."""
    rows = (
        findings.join(piece.claims.select("cid", "claim_id"), on="cid", how="left", maintain_order="left")
        .join(sources.select("cite", "file", "release"), on="cite", how="left", maintain_order="left")
        .select(
            claim_id="claim_id",
            finding="fid",
            severity="sev",
            lines=pl.col("lines").cast(pl.List(pl.String)).list.join(" "),
            message="msg",
            fix="fix",
            file=pl.col("file").fill_null(""),
            release=pl.col("release").fill_null(""),
            row=pl.col("cite_row").fill_null(""),
        )
    )
    return rows.with_columns(
        escape_cell(c) for c in ("claim_id", "finding", "message", "fix", "file", "release", "row")
    )


# --- reading a report back ---------------------------------------------------------------------


def citation_of(c: dict[str, Any] | None, sources: Sequence[Citation]) -> Citation | None:
    """A finding's citation as written: ``{source, row, line}`` (JSON) or in full (Parquet)."""
    if c is None:
        return None
    if "source" in c:
        return replace(sources[c["source"]], row=c["row"], line=c["line"])
    return Citation(
        c["family"],
        c["release"],
        c["file"],
        _day(c["effective_from"]),
        _day(c["effective_to"]),
        c["sha256"],
        c["row"],
        c["line"],
    )


def source_of(d: dict[str, Any]) -> Citation:
    return Citation(
        d["family"], d["release"], d["file"], _day(d["effective_from"]), _day(d["effective_to"]), d["sha256"]
    )


def checked_of(
    record: dict[str, Any], sources: Sequence[Citation] = (), texts: Sequence[str] | None = None
) -> CheckedClaim:
    """A report record as the ``CheckedClaim`` it was written from (``texts``: where notices and
    fixes are numbers)."""
    setting = record["setting"]

    def text(t: Any) -> str:
        return t if texts is None else texts[t]

    return CheckedClaim(
        record["id"],
        tuple(
            Finding(
                f["id"],
                f["severity"],
                tuple(f["lines"]),
                f["message"],
                text(f["fix"]),
                citation_of(f["citation"], sources),
            )
            for f in record["findings"]
        ),
        tuple(
            PricedLine(
                x["line"],
                x["code"],
                tuple(x["modifiers"]),
                _units(x["units"]),
                setting,
                x["rate"],
                tuple(x["adjustments"]),
                x["allowed"],
                x["denied"],
            )
            for x in record["lines"]
        ),
        record["total_allowed"],
        record["at_risk"],
        record["locality"],
        tuple(map(text, record["notices"])),
    )


def _units(u: float | int | None) -> float | int | None:
    return int(u) if isinstance(u, float) and u.is_integer() else u


def _day(d: date | str) -> date:
    return d if isinstance(d, date) else date.fromisoformat(d)
