"""Reports of checked claims: a summary, and JSON, JSON Lines, Parquet, CSV and HTML files.

Every file writer takes checked claims a piece at a time, either as the batch engine's frames
(``write_frames(BatchResult)``: encoded by Polars, no Python object per claim) or as
``CheckedClaim`` objects (``write(results)``: the per-claim engine's, turned into the same
frames first), and is closed with the summary. Nothing is held past the piece being written.
The layouts are in docs/claims.md ("Report"); ``read_report`` reads the machine forms back.
"""

from __future__ import annotations

import html
import io
import os
import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import polars as pl

from medcode.claims.model import CheckedClaim
from medcode.claims.report_frames import (
    SOURCE_FIELDS,
    Sources,
    Texts,
    checked_of,
    claim_records,
    csv_rows,
    frames_of,
    slices,
    source_of,
    source_record,
)

if TYPE_CHECKING:
    from medcode.claims.batch import BatchResult

SLICE = 50_000  # claims encoded at a time (a piece of the batch engine has about 70,000)
VERSION = 2  # of the JSON, JSON Lines and Parquet layouts (1: citations written in full in every finding)


class Summary:
    """Totals over checked claims, added a batch at a time."""

    def __init__(self) -> None:
        self.claims = self.lines = 0
        self.by_id: Counter[str] = Counter()
        self.by_severity: Counter[str] = Counter()
        self.total = self.at_risk = 0.0

    def add(self, results: Iterable[CheckedClaim]) -> None:
        for r in results:
            self.claims += 1
            self.lines += len(r.lines)
            self.by_id.update(f.id for f in r.findings)
            self.by_severity.update(f.severity for f in r.findings)
            self.total += r.total_allowed
            self.at_risk += r.at_risk

    def add_summary(self, s: dict[str, Any]) -> None:
        """Adds a summary made elsewhere (the batch engine's, from its frames)."""
        self.claims += s["claims"]
        self.lines += s["lines"]
        self.by_id.update(s["findings"])
        self.by_severity.update(s["by_severity"])
        self.total += s["total_allowed"]
        self.at_risk += s["at_risk"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "lines": self.lines,
            "findings": dict(sorted(self.by_id.items())),
            "by_severity": {k: self.by_severity.get(k, 0) for k in ("deny", "warn", "info")},
            "total_allowed": round(self.total, 2),
            "at_risk": round(self.at_risk, 2),
        }


def summary(results: Iterable[CheckedClaim]) -> dict[str, Any]:
    s = Summary()
    s.add(results)
    return s.as_dict()


def to_json(results: list[CheckedClaim]) -> bytes:
    """The API's answer: ``{"summary", "claims"}``, each finding's citation in full."""
    return orjson.dumps({"summary": summary(results), "claims": results}, option=orjson.OPT_INDENT_2)


class FrameWriter:
    """A report file written a piece at a time (see the module's docstring)."""

    def __init__(self, out: IO[bytes]):
        self.out = out
        self.sources = Sources()

    def write(self, results: Iterable[CheckedClaim]) -> None:
        results = list(results)
        if results:
            self.write_frames(frames_of(results))

    def write_frames(self, piece: BatchResult) -> None:
        raise NotImplementedError

    def close(self, summary: dict[str, Any]) -> None:
        raise NotImplementedError


class JsonWriter(FrameWriter):
    """``{"version": 2, "claims": [...], "sources": [...], "texts": [...], "summary": {...}}``: one
    claim a line; the sources that findings cite and the texts of notices and fixes, each written
    once and given by number; the summary last."""

    def __init__(self, out: IO[bytes]):
        super().__init__(out)
        self.first = True
        self.texts = Texts()
        out.write(b'{"version": %d, "claims": [' % VERSION)

    def write_frames(self, piece: BatchResult) -> None:
        for part in slices(piece, SLICE):
            if not part.claims.height:
                continue
            buf = io.BytesIO()
            claim_records(*self.texts.number(part, self.sources.renumber(part))).write_ndjson(buf)
            data = buf.getbuffer()
            self.out.write(b"\n" if self.first else b",\n")
            self.out.write(bytes(data[:-1]).replace(b"\n", b",\n"))  # no raw newline inside a JSON record
            self.first = False

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write(
            b'\n],\n"sources": '
            + orjson.dumps([source_record(c) for c in self.sources.list])
            + b',\n"texts": '
            + orjson.dumps(self.texts.list, option=orjson.OPT_INDENT_2)
            + b',\n"summary": '
            + orjson.dumps(summary, option=orjson.OPT_INDENT_2)
            + b"}\n"
        )


class JsonLinesWriter(FrameWriter):
    """One JSON object a line, each with its ``type``: ``report`` (the first line), ``source``
    and ``text`` (numbered, before the first claim that refers to them), ``claim`` (as in the JSON
    report) and ``summary`` (the last line)."""

    def __init__(self, out: IO[bytes]):
        super().__init__(out)
        self.texts = Texts()
        self.written = self.texts_written = 0
        out.write(orjson.dumps({"type": "report", "version": VERSION}) + b"\n")

    def write_frames(self, piece: BatchResult) -> None:
        if not piece.claims.height:
            return
        records = claim_records(*self.texts.number(piece, self.sources.renumber(piece)))
        for i, c in enumerate(self.sources.list[self.written :], start=self.written):
            self.out.write(orjson.dumps({"type": "source", "source": i, **source_record(c)}) + b"\n")
        self.written = len(self.sources.list)
        for i, t in enumerate(self.texts.list[self.texts_written :], start=self.texts_written):
            self.out.write(orjson.dumps({"type": "text", "text": i, "value": t}) + b"\n")
        self.texts_written = len(self.texts.list)
        records.select(pl.lit("claim").alias("type"), *records.columns).write_ndjson(self.out)

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write(orjson.dumps({"type": "summary", **summary}) + b"\n")


class ParquetWriter(FrameWriter):
    """One row per claim (the JSON record's columns), each finding's citation in full (Parquet
    stores repeated values once per page); the summary and layout version in the file's
    key-value metadata (``medcode.summary``, ``medcode.version``). Pieces wait in Arrow files
    in a temporary folder beside the report and are written as one file at the end."""

    def __init__(self, out: IO[bytes]):
        super().__init__(out)
        name = getattr(out, "name", None)
        where = os.path.dirname(os.path.abspath(name)) if isinstance(name, str) else None
        try:
            self.tmp = tempfile.mkdtemp(prefix=".medcode-report-", dir=where)
        except OSError:
            self.tmp = tempfile.mkdtemp(prefix="medcode-report-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.tmp, True)  # also when never closed
        self.parts: list[str] = []

    def write_frames(self, piece: BatchResult) -> None:
        if not piece.claims.height:
            return
        part = os.path.join(self.tmp, f"{len(self.parts):06d}.arrow")
        self._records(piece).write_ipc(part, compression="lz4")
        self.parts.append(part)

    def _records(self, piece: BatchResult) -> pl.DataFrame:
        findings = self.sources.renumber(piece).join(self.sources.frame(), on="cite", how="left", maintain_order="left")
        citation = pl.when(pl.col("cite").is_not_null()).then(
            pl.struct(*SOURCE_FIELDS, row="cite_row", line="cite_line")
        )
        return claim_records(piece, findings, citation, float_units=True)

    def close(self, summary: dict[str, Any]) -> None:
        try:
            meta = {"medcode.version": str(VERSION), "medcode.summary": orjson.dumps(summary).decode()}
            # one part after the other, each compressed (so not memory-mapped whole): 300 MB less at
            # the peak of a 1,000,000-line report than scanning the parts together
            parts = [pl.scan_ipc(p) for p in self.parts]
            frame = pl.concat(parts, parallel=False) if parts else self._records(frames_of([])).lazy()
            frame.sink_parquet(self.out, metadata=meta, row_group_size=SLICE)
        finally:
            self._cleanup()


CSV_HEADER = ("claim_id", "finding", "severity", "lines", "message", "fix", "file", "release", "row")


class CsvWriter(FrameWriter):
    """One row per finding (``CSV_HEADER``). Cells that a spreadsheet would take for a formula
    (starting with = + - @, a tab or a carriage return) begin with an apostrophe."""

    def __init__(self, out: IO[bytes]):
        super().__init__(out)
        out.write(",".join(CSV_HEADER).encode() + b"\n")

    def write_frames(self, piece: BatchResult) -> None:
        findings = self.sources.renumber(piece)
        if findings.height:
            csv_rows(piece, findings, self.sources.frame()).write_csv(self.out, include_header=False)

    def close(self, summary: dict[str, Any]) -> None:
        self.out.flush()


class HtmlWriter(FrameWriter):
    """The HTML report for a person, written claim by claim; the summary, known at the end, is
    written last and shown first."""

    def __init__(self, out: IO[bytes]):
        super().__init__(out)
        out.write(HTML_HEAD.encode())

    def write(self, results: Iterable[CheckedClaim]) -> None:
        self.out.write("".join(_claim_html(r) for r in results).encode())

    def write_frames(self, piece: BatchResult) -> None:
        for part in slices(piece, SLICE // 20):  # claim objects a few thousand at a time
            self.write(part.to_checked())

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write((_summary_html(summary) + "</main></html>").encode())


WRITERS: dict[str, type[FrameWriter]] = {
    ".json": JsonWriter,
    ".jsonl": JsonLinesWriter,
    ".parquet": ParquetWriter,
    ".csv": CsvWriter,
    ".html": HtmlWriter,
}


def to_csv(results: list[CheckedClaim]) -> str:
    """One row per finding."""
    return _written(CsvWriter, results).decode()


def to_html(results: list[CheckedClaim]) -> str:
    return _written(HtmlWriter, results).decode()


def _written(writer: type[FrameWriter], results: list[CheckedClaim]) -> bytes:
    out = io.BytesIO()
    w = writer(out)
    w.write(results)
    w.close(summary(results))
    return out.getvalue()


def read_report(path: str | Path) -> tuple[list[CheckedClaim], dict[str, Any]]:
    """The checked claims and the summary of a JSON, JSON Lines or Parquet report."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pl.read_parquet(path)
        meta = pl.read_parquet_metadata(path)
        return [checked_of(r) for r in frame.iter_rows(named=True)], orjson.loads(meta["medcode.summary"])
    if suffix == ".jsonl":
        sources, texts, claims, total = [], [], [], {}
        with path.open("rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                kind = rec.pop("type")
                if kind == "source":
                    sources.append(source_of(rec))
                elif kind == "text":
                    texts.append(rec["value"])
                elif kind == "claim":
                    claims.append(checked_of(rec, sources, texts))
                elif kind == "summary":
                    total = rec
        return claims, total
    if suffix == ".json":
        doc = orjson.loads(path.read_bytes())
        sources = [source_of(s) for s in doc["sources"]]
        return [checked_of(r, sources, doc["texts"]) for r in doc["claims"]], doc["summary"]
    raise ValueError(f"{path}: a report to read back ends in .json, .jsonl or .parquet")


# --- HTML ---------------------------------------------------------------------------------------

HTML_HEAD = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>medcode claim check</title>"
    "<style>body{font-family:sans-serif;margin:2rem}main{display:flex;flex-direction:column}"
    "#summary{order:-1}table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    ".deny{color:#a00}.warn{color:#a60}.info{color:#555}</style><main>"
)


def _summary_html(s: dict[str, Any]) -> str:
    return (
        f"<section id=summary><h1>Claim check</h1><p>{s['claims']} claims, {s['lines']} lines; "
        f"{s['by_severity']['deny']} deny, {s['by_severity']['warn']} warn, {s['by_severity']['info']} info "
        f"findings; allowed ${s['total_allowed']:,.2f}, at risk ${s['at_risk']:,.2f}.</p></section>"
    )


def _claim_html(r: CheckedClaim) -> str:
    e = html.escape
    parts = [
        f"<section><h2>Claim {e(r.id)}</h2><table><tr><th>line<th>code<th>modifiers<th>units<th>allowed<th>adjustments"
    ]
    for x in r.lines:
        allowed = "" if x.allowed is None else f"{x.allowed:,.2f}" + (" (denied)" if x.denied else "")
        parts.append(
            f"<tr><td>{x.line}<td>{e(x.code)}<td>{e(' '.join(x.modifiers))}<td>"
            f"{'' if x.units is None else f'{x.units:g}'}<td>{allowed}<td>{e('; '.join(x.adjustments))}"
        )
    parts.append(f"</table><p>Total allowed ${r.total_allowed:,.2f}</p>")
    if r.findings:
        parts.append("<table><tr><th>finding<th>severity<th>lines<th>message<th>fix<th>source")
        for f in r.findings:
            src = f"{f.citation.file} ({f.citation.release}) {f.citation.row or ''}" if f.citation else ""
            parts.append(
                f"<tr class={f.severity}><td>{e(f.id)}<td>{f.severity}<td>{e(' '.join(map(str, f.lines)))}"
                f"<td>{e(f.message)}<td>{e(f.fix)}<td>{e(src)}"
            )
        parts.append("</table>")
    parts.append("</section>")
    return "".join(parts)
