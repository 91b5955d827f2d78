"""Opening the knowledge base, and building a new one beside the old.

A knowledge base is a directory of SQLite files: ``kb.sqlite`` (every table but the
procedure-to-procedure edits) and one ``ptp-<id>.sqlite`` per PTP release (millions of rows
each, built in processes of their own so that ingest uses both cores). ``MEDCODE_HOME/kb`` is a symbolic link to
the current build under ``MEDCODE_HOME/builds/``; ingest writes a new build and replaces the link
atomically only when the build is complete, so readers always see a whole knowledge base.

Builds are never modified once they are swapped in, so readers open them read-only and
``immutable`` (no locking at all).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import apsw

MAIN_FILE = "kb.sqlite"
PTP_FILE = "ptp.sqlite"


class KnowledgeBaseMissing(FileNotFoundError):
    """No knowledge base has been built at this place yet."""


def connect(kb_dir: Path) -> apsw.Connection:
    """Open ``kb.sqlite`` of ``kb_dir`` (a build directory or the ``kb`` link) read-only."""
    main = kb_dir / MAIN_FILE
    if not main.exists():
        raise KnowledgeBaseMissing(f"no knowledge base at {kb_dir}: run `medcode ingest` first")
    return connect_readonly(main)


MMAP_BYTES = 1 << 30


def connect_readonly(path: Path) -> apsw.Connection:
    """A read-only, ``immutable`` connection that reads through a memory map (the pages are the
    operating system's file cache, shared by every server worker)."""
    conn = apsw.Connection(
        f"file:{path.resolve()}?mode=ro&immutable=1", flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READONLY
    )
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return conn


def connect_file(path: Path) -> apsw.Connection:
    """A writable connection to one SQLite file of a build under construction."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000")
    return conn


def new_build(home: Path) -> Path:
    """A fresh, empty build directory under ``home/builds``."""
    builds = home / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    path = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    path.mkdir()
    return path


def swap_in(home: Path, build: Path) -> Path:
    """Point ``home/kb`` at ``build`` atomically and remove the builds it replaced."""
    link = home / "kb"
    tmp = home / f".kb-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(build.relative_to(home))
    old = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a link to a build; move it away")
    os.replace(tmp, link)
    if old is not None and old != build.resolve() and old.parent == (home / "builds").resolve():
        shutil.rmtree(old, ignore_errors=True)
    return link


def discard(build: Path) -> None:
    shutil.rmtree(build, ignore_errors=True)
