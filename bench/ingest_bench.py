"""Ingest of everything in MEDCODE_DATA: wall time, peak memory, knowledge-base size.

    .venv/bin/python bench/ingest_bench.py
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from medcode import settings
from medcode.ingest import ingest


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
    print(f"ingest: {len(summary.files)} files, {rows:,} rows in {wall:.1f} s")
    print(f"peak RSS: main process {me:.0f} MB, largest worker {kids:.0f} MB")
    print(f"knowledge base size: {summary.size_bytes / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
