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

import os
import pickle
import sys
from typing import Any

from medcode.claims.batch import BatchResult, merge
from medcode.claims.batch import tasks as tasks_mod
from medcode.claims.batch.inputs import chunks, csv_pieces
from medcode.claims.files import detect_format, read_path


def session(master: str = "local[2]") -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("medcode-check")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


def check_file(
    path: str,
    fmt: str | None = None,
    *,
    master: str = "local[2]",
    pieces: int | None = None,
    spark: Any = None,
    home: str | None = None,
) -> BatchResult:
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
    parts = sc.parallelize(tasks, max(1, len(tasks))).map(lambda t: tasks_mod.run(t, home)).collect()
    return merge([tasks_mod.load(p) for p in parts])


def _csv_tasks(path: str, pieces: int) -> list[tuple] | None:
    """(kind, index, path, header, start, end, first line) for pieces of whole claims."""
    cut = csv_pieces(path, pieces=pieces)
    if cut is None:
        return None
    header, bounds = cut
    return [tasks_mod.csv_task(i, path, header, b) for i, b in enumerate(bounds)]
