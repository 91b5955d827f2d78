"""Pieces of a claim file checked in another process (the Spark job's tasks): a task names its
piece, the process checks it with a ``BatchChecker`` it keeps across tasks, and the result
travels back as Arrow IPC frames with its citations."""

from __future__ import annotations

import io
import pickle

import polars as pl

from medcode.claims.batch import BatchChecker, BatchResult
from medcode.claims.batch.inputs import from_claims, piece_frames

_checkers: dict[str | None, BatchChecker] = {}  # per knowledge base, in each process, kept across tasks


def csv_task(index: int, path: str, header: bytes, bounds: tuple[int, int, int]) -> tuple:
    start, end, first_line = bounds
    return ("csv", index, path, header, start, end, first_line)


def run(task: tuple, home: str | None) -> bytes:
    """Checks one piece with the knowledge base of the medcode ``home`` (None: MEDCODE_HOME)."""
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
    out: dict = {}
    for name in ("claims", "lines", "findings"):
        buf = io.BytesIO()
        getattr(result, name).write_ipc(buf)
        out[name] = buf.getvalue()
    out["cites"] = result.cites
    return pickle.dumps(out)


def load(blob: bytes) -> BatchResult:
    d = pickle.loads(blob)
    claims, lines, findings = (pl.read_ipc(io.BytesIO(d[n])) for n in ("claims", "lines", "findings"))
    return BatchResult(claims, lines, findings, d["cites"])
