"""Ingest of everything in MEDCODE_DATA: wall time, peak memory, knowledge-base size, and the
time the search index alone takes (rebuilt on a copy of the new kb.sqlite).

    .venv/bin/python bench/ingest_bench.py
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import apsw

from medcode import settings
from medcode.ingest import ingest
from medcode.kb.store import open_kb
from medcode.search import index


def search_index_seconds(home: Path) -> tuple[float, int]:
    kb = open_kb(home)
    spans = {s.id: index.FileSpan(s.family, s.effective_from, s.effective_to) for s in kb.sources.values()}
    copy = home / "copy.sqlite"
    shutil.copy(kb.path / "kb.sqlite", copy)
    kb.close()
    conn = apsw.Connection(str(copy))
    for table in ("search_docs", "search_fts", "search_ac", "search_words"):
        conn.execute(f"DROP TABLE {table}")
    t0 = time.perf_counter()
    with conn:
        docs = index.build(conn, spans)
    return time.perf_counter() - t0, docs


def main() -> None:
    data = settings.load().data
    assert data is not None, "set MEDCODE_DATA"
    with tempfile.TemporaryDirectory() as home:
        t0 = time.perf_counter()
        summary = ingest(data, Path(home), workers=2)
        wall = time.perf_counter() - t0
        rows = sum(r.rows for _, r in summary.files)
        me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        search_seconds, docs = search_index_seconds(Path(home))
    print(f"ingest: {len(summary.files)} files, {rows:,} rows in {wall:.1f} s")
    print(f"peak RSS: main process {me:.0f} MB, largest worker {kids:.0f} MB")
    print(f"knowledge base size: {summary.size_bytes / 1e6:.0f} MB")
    print(
        f"search index alone: {docs:,} documents in {search_seconds:.1f} s (part of the ingest above, "
        f"in the worker that builds kb.sqlite while the other builds the PTP files)"
    )


if __name__ == "__main__":
    main()
