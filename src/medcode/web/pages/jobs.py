"""Claim checks started from the web page: each one a folder under ``<home>/jobs`` holding its
status and its reports, so that any server worker can show it. Small inputs are checked before
the answer; large ones in a thread of their own, while the page shows progress.

The uploaded claims are deleted as soon as they are checked; the reports (which name codes and
amounts, not patients) are kept for ``KEEP_SECONDS`` so that they can be downloaded.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from medcode.claims import ClaimInputError
from medcode.claims import report as reports
from medcode.claims.run import Sink, check_path
from medcode.kb.store import KnowledgeBase

log = logging.getLogger(__name__)
KEEP_SECONDS = 3600
SHOWN = 50  # claims shown on the page; the reports have all of them
REPORTS = {"json": (".json", "application/json"), "csv": (".csv", "text/csv; charset=utf-8"),
           "html": (".html", "text/html; charset=utf-8")}
_ID = re.compile(r"[A-Za-z0-9_-]{16}")


class UnknownJob(KeyError):
    pass


def _write(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(obj))
    os.replace(tmp, path)


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


class Jobs:
    def __init__(self, kb: KnowledgeBase, root: Path):
        self.kb = kb
        self.root = root

    def folder(self, job: str) -> Path:
        if not _ID.fullmatch(job) or not (self.root / job / "status.json").exists():
            raise UnknownJob(job)
        return self.root / job

    def status(self, job: str) -> dict[str, Any]:
        return orjson.loads((self.folder(job) / "status.json").read_bytes())

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

    def create(self) -> tuple[str, Path]:
        self._sweep()
        job = secrets.token_urlsafe(12)
        folder = self.root / job
        folder.mkdir(parents=True)
        return job, folder

    def start(self, job: str, source: Path, fmt: str, *, background: bool, label: str = "the claims") -> None:
        """Checks ``source`` (inside the job's folder) now, or in a thread when ``background``;
        errors name the input as ``label`` (the uploaded file's name, or "pasted text")."""
        folder = self.root / job
        _write(folder / "status.json", {"state": "queued", "lines": 0, "total": estimate_lines(source, fmt),
                                        "format": fmt, "started": time.time()})
        if background:
            threading.Thread(target=self._run, args=(folder, source, fmt, "batch", label), daemon=True,
                             name=f"check-{job}").start()
        else:
            self._run(folder, source, fmt, "claim", label)

    def _run(self, folder: Path, source: Path, fmt: str, engine: str, label: str) -> None:
        status = orjson.loads((folder / "status.json").read_bytes())
        status["state"] = "running"
        _write(folder / "status.json", status)
        last = [time.monotonic()]

        def advance(lines: int) -> None:
            status["lines"] += lines
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                _write(folder / "status.json", status)
        files = [open(folder / f"report{REPORTS[k][0]}", "wb") for k in REPORTS]  # noqa: SIM115
        try:
            sinks: list[Sink] = [reports.JsonWriter(files[0]), reports.CsvWriter(files[1]),
                                 reports.HtmlWriter(files[2])]
            summary, kept = check_path(self.kb, str(source), fmt, engine=engine, sinks=sinks, advance=advance,
                                       keep=SHOWN)
            (folder / "shown.json").write_bytes(orjson.dumps(kept))
            status.update(state="done", summary=summary, lines=summary["lines"], finished=time.time())
        except ClaimInputError as exc:
            status.update(state="failed", error=str(exc).replace(str(source), label))
        except Exception as exc:  # reported on the page; the details go to the server log
            log.exception("claim check %s failed", folder.name)
            status.update(state="failed", error=f"The check failed: {type(exc).__name__}. Nothing was kept.")
        finally:
            for fh in files:
                fh.close()
            source.unlink(missing_ok=True)
            if status["state"] == "failed":
                for k in REPORTS:
                    (folder / f"report{REPORTS[k][0]}").unlink(missing_ok=True)
            _write(folder / "status.json", status)

    def _sweep(self) -> None:
        if not self.root.exists():
            return
        cutoff = time.time() - KEEP_SECONDS
        for folder in self.root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue
