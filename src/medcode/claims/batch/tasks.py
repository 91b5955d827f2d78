"""Pieces of a claim file checked in other processes (the batch engine's worker processes and
the Spark job's tasks): a task names its piece, the process checks it with a ``BatchChecker`` it
keeps across tasks, and the result travels back as Arrow IPC frames with its citations."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import polars as pl

from medcode.claims.batch import BatchChecker, BatchResult
from medcode.claims.batch.inputs import from_claims, piece_frames

_checkers: dict[str | None, BatchChecker] = {}  # per knowledge base, in each process, kept across tasks


def csv_task(index: int, path: str, header: bytes, bounds: tuple[int, int, int]) -> tuple:
    start, end, first_line = bounds
    return ("csv", index, path, header, start, end, first_line)


def run(task: tuple, where: str | None) -> bytes:
    """Checks one piece. ``where`` is a knowledge base build folder (``kb.path``), or a medcode
    home (the knowledge base it holds now), or None for MEDCODE_HOME."""
    import medcode
    from medcode.kb.store import KnowledgeBase

    if where not in _checkers:
        build = Path(where) if where else None
        kb = KnowledgeBase(build) if build is not None and (build / "kb.sqlite").exists() else medcode.open_kb(where)
        _checkers[where] = BatchChecker(kb)
    checker = _checkers[where]
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
    return BatchResult(*(pl.read_ipc(io.BytesIO(d[n])) for n in ("claims", "lines", "findings")), d["cites"])
