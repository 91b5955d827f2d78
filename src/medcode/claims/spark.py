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
from medcode.claims.batch.inputs import chunks, csv_pieces, from_claims, piece_frames
from medcode.claims.files import detect_format, read_path

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
    cut = csv_pieces(path, pieces=pieces)
    if cut is None:
        return None
    header, bounds = cut
    return [("csv", i, path, header, s, e, n) for i, (s, e, n) in enumerate(bounds)]


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
        frames = piece_frames(path, header, body, first_line)
    else:
        frames = from_claims(pickle.loads(task[2]))
    result = checker.check_piece(index, frames)
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

