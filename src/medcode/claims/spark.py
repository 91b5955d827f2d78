"""The claim checker as an Apache Spark job, for files past one machine.

The driver cuts the file into pieces of whole claims; each Spark task checks its piece with the
batch engine (``medcode.claims.batch``), so the rules are the very code the other engines run,
and sends back its three result frames as Arrow IPC. Executors read the claim file and the
knowledge base from the same paths as the driver (a shared file system on a cluster; the local
disk with ``local[N]``).

Plain CSV is cut by byte ranges at claim boundaries, so the driver never parses it. Other
formats (and CSV with quoted fields, where a newline may sit inside a value) are read on the
driver and shipped as claims.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from typing import Any

import polars as pl

from medcode.claims.batch import BatchChecker, BatchResult, merge
from medcode.claims.batch.inputs import chunks, csv_body_frames, from_claims
from medcode.claims.files import detect_format, read_path
from medcode.claims.readers import iter_csv

CID_STRIDE = 1 << 32  # claim ids of piece i start at i * CID_STRIDE
_checkers: dict[str | None, BatchChecker] = {}  # per knowledge base, in each Python worker, kept across tasks


def session(master: str = "local[2]") -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master(master).appName("medcode-check")
            .config("spark.ui.enabled", "false").config("spark.driver.memory", "2g")
            .getOrCreate())


def check_file(path: str, fmt: str | None = None, *, master: str = "local[2]", pieces: int | None = None,
               spark: Any = None, home: str | None = None) -> BatchResult:
    """Check a claim file with Spark; the result is the batch engine's, merged over pieces.
    ``home`` is the medcode home holding the knowledge base (default: MEDCODE_HOME)."""
    fmt = fmt or detect_format(path)
    spark = spark or session(master)
    sc = spark.sparkContext
    pieces = pieces or max(2, sc.defaultParallelism * 2)
    tasks = _csv_tasks(path, pieces) if fmt == "csv" else None
    if tasks is None:
        claims = list(read_path(path, fmt))
        size = max(1, sum(len(c.lines) for c in claims) // pieces + 1)
        tasks = [("claims", i, pickle.dumps(chunk)) for i, chunk in enumerate(chunks(claims, size))]
    home = home or os.environ.get("MEDCODE_HOME")
    parts = sc.parallelize(tasks, max(1, len(tasks))).map(lambda t: _run(t, home)).collect()
    return merge([_load(p) for p in parts])


def _csv_tasks(path: str, pieces: int) -> list[tuple] | None:
    """(kind, index, path, header, start, end, first line) for pieces of whole claims."""
    with open(path, "rb") as fh:
        data = fh.read()
    if b'"' in data:
        return None
    header_end = data.find(b"\n")
    if header_end < 0:
        return None
    header = data[:header_end]
    names = [h.strip().lower() for h in header.decode("utf-8", "replace").split(",")]
    if "claim_id" not in names:
        return None
    id_col = names.index("claim_id")
    step = max(1, (len(data) - header_end) // pieces)
    bounds, start, line = [], header_end + 1, 2
    while start < len(data):
        end = _claim_boundary(data, min(len(data), start + step), id_col)
        bounds.append((start, end, line))
        line += data.count(b"\n", start, end)
        start = end
    return [("csv", i, path, header, s, e, n) for i, (s, e, n) in enumerate(bounds)]


def _claim_boundary(data: bytes, at: int, id_col: int) -> int:
    """The start of the first row at or after ``at`` whose claim id differs from the row before."""
    if at >= len(data):
        return len(data)
    at = data.find(b"\n", at)
    if at < 0:
        return len(data)
    line_start = data.rfind(b"\n", 0, at) + 1
    previous = data[line_start:at].split(b",")[id_col:id_col + 1]
    pos = at + 1
    while pos < len(data):
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl
        if data[pos:nl].split(b",")[id_col:id_col + 1] != previous:
            return pos
        pos = nl + 1
    return len(data)


def _run(task: tuple, home: str | None) -> bytes:
    """One Spark task: check a piece with the batch engine; Arrow IPC frames and citations back."""
    import medcode

    if home not in _checkers:
        _checkers[home] = BatchChecker(medcode.open_kb(home))
    checker = _checkers[home]
    kind, index = task[0], task[1]
    if kind == "csv":
        _, _, path, header, start, end, first_line = task
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start)
        frames = csv_body_frames(header, body, path, first_line)
        if frames is None:  # rows the per-claim reader must read: keep their line numbers
            text = header.decode("utf-8") + "\n" * (first_line - 1) + body.decode("utf-8")
            frames = from_claims(iter_csv(io.StringIO(text, newline=""), path))
    else:
        frames = from_claims(pickle.loads(task[2]))
    claims, lines, slow = frames
    offset = index * CID_STRIDE
    result = checker.check(claims.with_columns(pl.col("cid") + offset), lines.with_columns(pl.col("cid") + offset),
                            [(cid + offset, claim) for cid, claim in slow])
    out = {}
    for name in ("claims", "lines", "findings"):
        buf = io.BytesIO()
        getattr(result, name).write_ipc(buf)
        out[name] = buf.getvalue()
    out["cites"] = result.cites
    return pickle.dumps(out)


def _load(blob: bytes) -> BatchResult:
    d = pickle.loads(blob)
    return BatchResult(*(pl.read_ipc(io.BytesIO(d[n])) for n in ("claims", "lines", "findings")), d["cites"])

