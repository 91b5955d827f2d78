"""Claim checks started from the web page: each one a folder under ``<home>/jobs`` holding its
status and its reports, so that any server worker can show it. Small inputs are checked before
the answer (in a worker thread); large ones wait in a queue for one of ``MEDCODE_JOBS`` runner
threads while the page shows their place in the queue and then their progress.

Claims are patient data: job folders are 0700 and their files 0600; the uploaded claims are
deleted as soon as they are checked (or when the check fails, or at start-up when a restart cut
it short); the reports are deleted ``MEDCODE_KEEP_MINUTES`` after the check ends, by a timer and
at start-up. Each queued or running job holds an ``flock`` on its ``lock`` file, so that any
worker can tell a job whose process died (the lock is free) from one still under way.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import orjson

from medcode.claims import ClaimInputError
from medcode.claims import report as reports
from medcode.claims.model import CheckedClaim
from medcode.claims.run import Sink, _head, check_path
from medcode.kb.store import KnowledgeBase

log = logging.getLogger(__name__)
SHOWN = 50  # claims shown on the page; the reports have all of them
HTML_CLAIMS = 1000  # claims in the HTML report of a web check (the JSON and CSV reports have all)
# The batch engine's piece size for web checks: its memory grows with the lines of a piece (about
# 1 GB for a piece of 330,000 short CSV rows); pieces of 40,000 lines keep a server checking a million
# lines near 1.3 GB at its peak (60,000 gave 1.45-1.6 GB once the server held accounts, consults and jobs),
# at no cost in speed.
CHUNK_LINES = 40_000
REPORTS = {
    "json": (".json", "application/json"),
    "csv": (".csv", "text/csv; charset=utf-8"),
    "html": (".html", "text/html; charset=utf-8"),
}
ACTIVE = ("queued", "running")
ORPHAN_AGE = 60.0  # seconds: a folder without a status or a lock is an upload cut short
_ID = re.compile(r"[A-Za-z0-9_-]{16}")


class UnknownJob(KeyError):
    pass


class Busy(RuntimeError):
    """The queue of background checks is full."""


def private(path: Path) -> IO[bytes]:
    """A new file that only the server's user can read (0600)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _write(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    with private(tmp) as fh:
        fh.write(orjson.dumps(obj))
    os.replace(tmp, path)


def _read(folder: Path) -> dict[str, Any] | None:
    try:
        status: dict[str, Any] = orjson.loads((folder / "status.json").read_bytes())
        return status
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def _try_lock(folder: Path) -> int | None:
    """The lock of a job folder, or None when a live process holds it."""
    try:
        fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def estimate_lines(path: Path, fmt: str) -> int | None:
    """Lines a file holds, counted cheaply (rows of a CSV, SV1 segments of an 837P)."""
    marker = {"csv": b"\n", "x12": b"SV1"}.get(fmt)
    if marker is None:
        return None
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(marker)
    return max(n - 1, 0) if fmt == "csv" else n


class _Relabel:
    """A report sink that shows the input as its label ("pasted text", the uploaded file's name)
    instead of the server's path to it; it takes the batch engine's frames when its sink does."""

    def __init__(self, sink: Sink, path: str, label: str):
        self.sink, self.path, self.label = sink, path, label
        if hasattr(sink, "write_frames"):
            self.write_frames = self._write_frames

    def write(self, results: Iterable[CheckedClaim]) -> None:
        self.sink.write(relabel(results, self.path, self.label))

    def _write_frames(self, piece: Any) -> None:
        import polars as pl

        findings = piece.findings.with_columns(pl.col("msg").str.replace_all(self.path, self.label, literal=True))
        self.sink.write_frames(type(piece)(piece.claims, piece.lines, findings, piece.cites))  # type: ignore[attr-defined]

    def close(self, summary: dict[str, Any]) -> None:
        self.sink.close(summary)


class _Head:
    """The HTML report of a web check holds the first ``HTML_CLAIMS`` claims (a page for a person:
    a million-line file would make hundreds of megabytes no browser shows, and building its claim
    objects would take most of the check's time); the JSON and CSV reports hold every claim."""

    def __init__(self, sink: Any, most: int):
        self.sink, self.left, self.seen = sink, most, 0
        if hasattr(sink, "write_frames"):
            self.write_frames = self._write_frames

    def write(self, results: Iterable[CheckedClaim]) -> None:
        results = list(results)
        self.seen += len(results)
        if self.left > 0:
            self.sink.write(results[: self.left])
            self.left -= min(self.left, len(results))

    def _write_frames(self, piece: Any) -> None:
        self.seen += piece.claims.height
        if self.left > 0:
            head = piece if piece.claims.height <= self.left else _head(piece, self.left)
            self.sink.write_frames(head)
            self.left -= head.claims.height

    def close(self, summary: dict[str, Any]) -> None:
        if self.left <= 0 and self.seen > HTML_CLAIMS:
            self.sink.out.write(
                f'<p class="note">This report shows the first {HTML_CLAIMS:,} of {self.seen:,} '
                "claims; the JSON and CSV reports have all of them.</p>".encode()
            )
        self.sink.close(summary)


def relabel(results: Iterable[CheckedClaim], path: str, label: str) -> list[CheckedClaim]:
    out = []
    for c in results:
        if any(path in f.message for f in c.findings):
            c = replace(
                c,
                findings=tuple(
                    replace(f, message=f.message.replace(path, label)) if path in f.message else f for f in c.findings
                ),
            )
        out.append(c)
    return out


class Jobs:
    """The job folders under ``root``, the queue of background checks and their runner threads."""

    def __init__(
        self,
        kb: KnowledgeBase,
        root: Path,
        *,
        slots: int = 1,
        queue: int = 20,
        keep_seconds: float = 3600.0,
        timer: bool = True,
    ):
        self.kb = kb
        self.root = root
        self.slots = slots
        self.queue = queue
        self.keep_seconds = keep_seconds
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._held: dict[str, int] = {}  # job -> descriptor of its lock, held while queued or running
        self._cond = threading.Condition()
        self._waiting: deque[tuple[str, Path, str, str]] = deque()
        self._stop = threading.Event()
        self.sweep(startup=True)
        for i in range(slots):
            threading.Thread(target=self._runner, daemon=True, name=f"medcode-check-{i}").start()
        if timer:
            threading.Thread(target=self._timer, daemon=True, name="medcode-job-expiry").start()

    # --- reading ---------------------------------------------------------------------------

    def folder(self, job: str) -> Path:
        """The folder of a job that exists and has not expired."""
        if not _ID.fullmatch(job):
            raise UnknownJob(job)
        status = _read(self.root / job)
        if status is None or status.get("expires", float("inf")) < time.time():
            raise UnknownJob(job)
        return self.root / job

    def status(self, job: str) -> dict[str, Any]:
        found = _read(self.folder(job))
        if found is None:
            raise UnknownJob(job)
        return found

    def shown(self, job: str) -> list[dict[str, Any]]:
        path = self.folder(job) / "shown.json"
        return orjson.loads(path.read_bytes()) if path.exists() else []

    def report(self, job: str, kind: str) -> Path:
        if kind not in REPORTS:
            raise UnknownJob(job)
        path = self.folder(job) / f"report{REPORTS[kind][0]}"
        if not path.exists():
            raise UnknownJob(job)
        return path

    # --- starting --------------------------------------------------------------------------

    def create(self) -> tuple[str, Path]:
        """A new private folder, locked by this process until its check ends or it is discarded."""
        job = secrets.token_urlsafe(12)
        folder = self.root / job
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
        fd = _try_lock(folder)
        assert fd is not None, "a new job folder is locked by no one else"
        self._held[job] = fd
        return job, folder

    def discard(self, job: str) -> None:
        """Removes a job that was never started (a rejected submission)."""
        shutil.rmtree(self.root / job, ignore_errors=True)
        self._release(job)

    def _release(self, job: str) -> None:
        fd = self._held.pop(job, None)
        if fd is not None:
            os.close(fd)

    def _status(self, job: str, source: Path, fmt: str, label: str, state: str, **extra: Any) -> dict[str, Any]:
        status = {
            "state": state,
            "lines": 0,
            "total": estimate_lines(source, fmt),
            "format": fmt,
            "label": label,
            "created": time.time(),
            **extra,
        }
        _write(self.root / job / "status.json", status)
        return status

    def run_now(self, job: str, source: Path, fmt: str, label: str) -> None:
        """Checks a small input in the calling thread with the per-claim engine."""
        status = self._status(job, source, fmt, label, "running", started=time.time())
        self._run(job, source, fmt, "claim", label, status)

    def submit(self, job: str, source: Path, fmt: str, label: str) -> None:
        """Queues a large input for the batch engine; raises ``Busy`` when the queue is full."""
        with self._cond:
            if len(self._waiting) >= self.queue:
                raise Busy(f"{len(self._waiting)} checks are waiting")
            self._status(job, source, fmt, label, "queued", position=len(self._waiting) + 1)
            self._waiting.append((job, source, fmt, label))
            self._cond.notify()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def _runner(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job, source, fmt, label = self._waiting.popleft()
                for place, (other, *_) in enumerate(self._waiting, 1):  # the others move up
                    status = _read(self.root / other)
                    if status is not None:
                        status["position"] = place
                        _write(self.root / other / "status.json", status)
            status = _read(self.root / job) or self._status(job, source, fmt, label, "queued")
            status.update(state="running", started=time.time())
            status.pop("position", None)
            _write(self.root / job / "status.json", status)
            self._run(job, source, fmt, "batch", label, status)

    def _run(self, job: str, source: Path, fmt: str, engine: str, label: str, status: dict[str, Any]) -> None:
        folder = self.root / job
        last = [time.monotonic()]

        def advance(lines: int) -> None:
            status["lines"] += lines
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                _write(folder / "status.json", status)

        files = [private(folder / f"report{REPORTS[k][0]}") for k in REPORTS]
        try:
            sinks: list[Sink] = [
                _Relabel(s, str(source), label)
                for s in (
                    reports.JsonWriter(files[0]),
                    reports.CsvWriter(files[1]),
                    _Head(reports.HtmlWriter(files[2]), HTML_CLAIMS),
                )
            ]
            summary, kept = check_path(
                self.kb,
                str(source),
                fmt,
                engine=engine,
                sinks=sinks,
                advance=advance,
                keep=SHOWN,
                chunk_lines=CHUNK_LINES,
            )
            with private(folder / "shown.json") as fh:
                fh.write(orjson.dumps(relabel(kept, str(source), label)))
            status.update(state="done", summary=summary, lines=summary["lines"])
        except ClaimInputError as exc:
            status.update(state="failed", error=str(exc).replace(str(source), label))
        except Exception as exc:  # reported on the page; the details go to the server log
            log.exception("claim check %s failed", job)
            status.update(
                state="failed",
                error=f"The check failed on an error of medcode ({type(exc).__name__}); "
                "nothing was kept. The server log has the details.",
            )
        finally:
            for fh in files:
                fh.close()
            source.unlink(missing_ok=True)
            if status["state"] == "failed":
                self._drop_results(folder)
            now = time.time()
            status.update(finished=now, expires=now + self.keep_seconds)
            _write(folder / "status.json", status)
            self._release(job)

    @staticmethod
    def _drop_results(folder: Path) -> None:
        for name in (*(f"report{ext}" for ext, _ in REPORTS.values()), "shown.json"):
            (folder / name).unlink(missing_ok=True)

    # --- keeping ---------------------------------------------------------------------------

    def sweep(self, startup: bool = False) -> None:
        """Deletes expired jobs, and fails the jobs whose process is gone (their lock is free):
        their uploads are deleted and their page says that the check was cut short."""
        if not self.root.exists():
            return
        now = time.time()
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.name in self._held:
                continue
            status = _read(folder)
            if status is not None and status.get("state") not in ACTIVE:
                ended = status.get("finished") or folder.stat().st_mtime
                if status.get("expires", ended + self.keep_seconds) < now:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            fd = _try_lock(folder)  # queued or running, or an upload under way: is its process alive?
            if fd is None:
                continue
            try:
                if status is None:
                    if startup or now - folder.stat().st_mtime > ORPHAN_AGE:
                        shutil.rmtree(folder, ignore_errors=True)
                    continue
                for path in folder.iterdir():
                    if path.name.startswith("input"):
                        path.unlink(missing_ok=True)
                self._drop_results(folder)
                status.pop("position", None)
                status.update(
                    state="failed",
                    finished=now,
                    expires=now + self.keep_seconds,
                    error="The server stopped before this check ended; the uploaded claims were "
                    "deleted. Check the file again.",
                )
                _write(folder / "status.json", status)
            except FileNotFoundError:
                continue
            finally:
                os.close(fd)

    def _timer(self) -> None:
        every = min(60.0, max(1.0, self.keep_seconds / 4))
        while not self._stop.wait(every):
            try:
                self.sweep()
            except Exception:  # the timer must go on
                log.exception("sweeping the job folders failed")

    def close(self) -> None:
        self._stop.set()
