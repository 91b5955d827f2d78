"""Checking a whole claim file with any engine, into report writers, with progress: the one
loop that the CLI and the web site's claim checker share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from medcode.claims import Checker, read_path
from medcode.claims import report as reports
from medcode.claims.model import CheckedClaim
from medcode.kb.store import KnowledgeBase

ENGINES = ("batch", "claim", "spark")


class Sink(Protocol):
    """Where checked claims go (``report.WRITERS``). A sink that also has ``write_frames(piece)``
    gets the batch engine's frames as they are (``BatchResult``) rather than claim objects."""

    def write(self, results: Iterable[CheckedClaim]) -> None: ...

    def close(self, summary: dict[str, Any]) -> None: ...


def check_path(
    kb: KnowledgeBase,
    path: str,
    fmt: str | None = None,
    *,
    engine: str = "batch",
    sinks: Iterable[Sink] = (),
    advance: Callable[[int], None] | None = None,
    keep: int = 0,
    spark_master: str = "local[2]",
    home: str | None = None,
    chunk_lines: int | None = None,
) -> tuple[dict[str, Any], list[CheckedClaim]]:
    """Checks every claim of the file, writes the results to ``sinks`` (closed with the summary),
    calls ``advance(lines)`` as lines are done, and returns the summary and the first ``keep``
    checked claims (``chunk_lines``: the batch engine's piece size). Raises ``ClaimInputError`` for a
    file that cannot be read at all."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    sinks = list(sinks)
    totals = reports.Summary()
    kept: list[CheckedClaim] = []
    step = advance or (lambda _: None)

    def take(results: list[CheckedClaim]) -> None:
        if len(kept) < keep:
            kept.extend(results[: keep - len(kept)])
        for sink in sinks:
            sink.write(results)

    if engine == "claim":
        checker, batch = Checker(kb), []
        for claim in read_path(path, fmt):
            batch.append(checker.check(claim))
            step(len(claim.lines))
            if len(batch) == 1000:
                totals.add(batch)
                take(batch)
                batch = []
        totals.add(batch)
        take(batch)
    else:
        if engine == "spark":
            from medcode.claims import spark

            pieces: Iterable[Any] = [spark.check_file(path, fmt, master=spark_master, home=home)]
        else:
            from medcode.claims import batch as batch_engine

            pieces = (
                batch_engine.check_file(kb, path, fmt, chunk_lines=chunk_lines)
                if chunk_lines
                else batch_engine.check_file(kb, path, fmt)
            )
        for piece in pieces:
            totals.add_summary(piece.summary())
            step(piece.lines.height)
            if len(kept) < keep:
                kept.extend(_head(piece, keep - len(kept)).to_checked())
            checked = None  # made once, for the sinks that take claim objects only
            for sink in sinks:
                frames = getattr(sink, "write_frames", None)
                if frames is not None:
                    frames(piece)
                else:
                    checked = piece.to_checked() if checked is None else checked
                    sink.write(checked)
    summary = totals.as_dict()
    for sink in sinks:
        sink.close(summary)
    return summary, kept


def _head(piece: Any, n: int) -> Any:
    """The first ``n`` claims of a batch result (``BatchResult``), with their lines and findings."""
    import polars as pl

    if piece.claims.height <= n:
        return piece
    claims = piece.claims.head(n)
    ids = claims["cid"].implode()
    return type(piece)(
        claims,
        piece.lines.filter(pl.col("cid").is_in(ids)),
        piece.findings.filter(pl.col("cid").is_in(ids)),
        piece.cites,
    )
