"""Build a knowledge base from a directory of official files.

``ingest(data_dir, home)`` finds every file it knows (``SOURCES``), gives each a release id,
and builds a new knowledge base directory beside the current one with two worker processes:
one builds ``kb.sqlite`` from every family but PTP, the others build one ``ptp-<id>.sqlite``
per PTP release (millions of rows each). Only when every part is complete and checked is the
new build swapped in; on any error the build is deleted and the previous knowledge base stays.
The same files always give the same knowledge base: ids, row order and contents depend only on
the files.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from medcode.kb import db, schema
from medcode.search import index as search_index
from medcode.sources import (
    anes,
    asc,
    asp,
    clfs,
    dmepos,
    gpci,
    hcpcs,
    icd10_guidelines,
    icd10_index,
    icd10cm,
    locality,
    ncci_aoc,
    ncci_mue,
    ncci_ptp,
    oppscap,
    pprrvu,
    zip5,
)
from medcode.sources.files import SourceFile
from medcode.sources.layout import LayoutMismatch

SOURCES: tuple[ModuleType, ...] = (
    pprrvu,
    gpci,
    locality,
    zip5,
    anes,
    oppscap,
    asc,
    hcpcs,
    icd10cm,
    icd10_index,
    icd10_guidelines,
    ncci_aoc,
    ncci_mue,
    ncci_ptp,
    clfs,
    dmepos,
    asp,
)
PTP_FAMILIES = frozenset(ncci_ptp.FAMILIES.values())


class IngestError(RuntimeError):
    """Ingest stopped; the previous knowledge base is untouched."""


@dataclass(frozen=True)
class PlannedFile:
    id: int
    source: SourceFile
    module: str  # name of the module in medcode.sources
    store: str  # the SQLite file of the build that holds its rows


@dataclass
class FileResult:
    id: int
    rows: int
    sha256: str
    seconds: float


@dataclass
class Summary:
    build: Path
    files: list[tuple[PlannedFile, FileResult]] = field(default_factory=list)
    seconds: float = 0.0
    size_bytes: int = 0

    def rows_by_family(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for pf, res in self.files:
            out[pf.source.family] = out.get(pf.source.family, 0) + res.rows
        return out


def plan(data_dir: Path) -> list[PlannedFile]:
    """Every known official file under ``data_dir``, in a fixed order, with its release id."""
    if not data_dir.is_dir():
        raise IngestError(f"{data_dir}: no such directory (set MEDCODE_DATA or pass DIR)")
    found: list[tuple[SourceFile, ModuleType]] = []
    for module in SOURCES:
        for sf in module.discover(data_dir):
            found.append((sf, module))
    if not found:
        raise IngestError(f"{data_dir}: no official files found")
    found.sort(key=lambda x: (x[0].family, x[0].effective_from, x[0].release, str(x[0].path)))
    planned = []
    ptp_groups: dict[tuple[str, str], str] = {}
    for n, (sf, module) in enumerate(found, start=1):
        if sf.family in PTP_FAMILIES:
            store = ptp_groups.setdefault((sf.family, sf.release), f"ptp-{n}.sqlite")
        else:
            store = db.MAIN_FILE
        planned.append(PlannedFile(n, sf, module.__name__.rsplit(".", 1)[1], store))
    return planned


# --- progress from worker processes ---------------------------------------------------------

_QUEUE: Any = None
ProgressFn = Callable[[str, int, int], None]  # (event, file id, rows)


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue


def _report(event: str, file_id: int, rows: int = 0) -> None:
    if _QUEUE is not None:
        _QUEUE.put((event, file_id, rows))


def _counted(rows: Iterable[tuple[Any, ...]], file_id: int, counter: list[int]) -> Iterator[tuple[Any, ...]]:
    n = 0
    for row in rows:
        n += 1
        if n % 50_000 == 0:
            _report("rows", file_id, n)
        yield row
    counter[0] += n


def _tables_of(module: ModuleType, sf: SourceFile) -> list[tuple[str, tuple[str, ...], Iterable[Any]]]:
    if hasattr(module, "parse_tables"):
        return list(module.parse_tables(sf))
    table, columns = module.target(sf) if hasattr(module, "target") else (module.TABLE, module.COLUMNS)
    return [(table, columns, module.parse(sf))]


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    cols = ", ".join(("release_id", *columns))
    marks = ", ".join("?" * (len(columns) + 1))
    return f"INSERT INTO {table} ({cols}) VALUES ({marks})"


def _with_id(release_id: int, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield (release_id, *row)


# --- the two kinds of task ------------------------------------------------------------------


def build_main(path: Path, files: list[PlannedFile]) -> list[FileResult]:
    """Every non-PTP file into ``kb.sqlite``; returns per-file results."""
    conn = db.connect_file(path)
    conn.execute(schema.MAIN_TABLES)
    results = []
    for pf in files:
        _report("start", pf.id)
        t0 = time.perf_counter()
        module = getattr(__import__("medcode.sources", fromlist=[pf.module]), pf.module)
        counter = [0]
        with conn:
            for table, columns, rows in _tables_of(module, pf.source):
                conn.executemany(_insert_sql(table, columns), _with_id(pf.id, _counted(rows, pf.id, counter)))
        results.append(FileResult(pf.id, counter[0], pf.source.sha256(), time.perf_counter() - t0))
        _report("done", pf.id, counter[0])
    with conn:
        conn.execute(schema.MAIN_INDEXES)
        conn.execute(schema.PRESENCE_SQL)
        search_index.build(
            conn,
            {
                pf.id: search_index.FileSpan(pf.source.family, pf.source.effective_from, pf.source.effective_to)
                for pf in files
            },
        )
    conn.execute("ANALYZE")
    conn.close()
    return results


def build_ptp(path: Path, files: list[PlannedFile]) -> list[FileResult]:
    """The files of one PTP release into their own SQLite file."""
    conn = db.connect_file(path)
    conn.execute(schema.PTP_TABLES)
    rationales: dict[str, int] = {}
    results = []
    first = 1
    for pf in files:
        _report("start", pf.id)
        t0 = time.perf_counter()
        counter = [0]
        parsed = ncci_ptp.Parsed()
        rows = ncci_ptp.parse(pf.source, rationales, parsed)
        with conn:
            conn.executemany(
                _insert_sql("ptp_edits", ncci_ptp.COLUMNS), _with_id(pf.id, _counted(rows, pf.id, counter))
            )
        last = first + counter[0] - 1
        bad = conn.execute(ncci_ptp.VALIDATE, (first, last)).fetchone()
        ncci_ptp.check_loaded(pf.source, bad, first, parsed)
        first = last + 1
        results.append(FileResult(pf.id, counter[0], pf.source.sha256(), time.perf_counter() - t0))
        _report("done", pf.id, counter[0])
    with conn:
        conn.executemany(
            "INSERT INTO ptp_rationales (id, text) VALUES (?, ?)", sorted((v, k) for k, v in rationales.items())
        )
        conn.execute(schema.PTP_INDEXES)
        conn.execute(schema.PTP_COUNTS)
    conn.execute("ANALYZE")
    conn.close()
    return results


# --- orchestration ----------------------------------------------------------------------------


def _write_releases(build: Path, planned: list[PlannedFile], results: dict[int, FileResult], data_dir: Path) -> None:
    conn = db.connect_file(build / db.MAIN_FILE)
    with conn:
        for pf in planned:
            sf, res = pf.source, results[pf.id]
            conn.execute(
                "INSERT INTO releases (id, family, release, file, path, layout, store,"
                " effective_from, effective_to, sha256, rows) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pf.id,
                    sf.family,
                    sf.release,
                    sf.path.name,
                    str(sf.path.relative_to(data_dir)),
                    sf.layout,
                    pf.store,
                    sf.effective_from.isoformat(),
                    sf.effective_to.isoformat(),
                    res.sha256,
                    res.rows,
                ),
            )
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", str(schema.SCHEMA_VERSION)),
                ("files", str(len(planned))),
            ],
        )
    conn.execute("VACUUM")
    conn.close()


def ingest(
    data_dir: Path,
    home: Path,
    *,
    workers: int = 2,
    progress: ProgressFn | None = None,
    on_plan: Callable[[list[PlannedFile]], None] | None = None,
) -> Summary:
    """Build a new knowledge base from ``data_dir`` and swap it in at ``home/kb``."""
    t0 = time.perf_counter()
    data_dir = data_dir.resolve()
    planned = plan(data_dir)
    if on_plan is not None:
        on_plan(planned)
    home.mkdir(parents=True, exist_ok=True)
    build = db.new_build(home)
    groups: dict[str, list[PlannedFile]] = {}
    for pf in planned:
        groups.setdefault(pf.store, []).append(pf)
    ctx = mp.get_context("fork")
    queue = ctx.Queue() if progress is not None else None
    results: dict[int, FileResult] = {}
    try:
        with ProcessPoolExecutor(
            max_workers=max(1, workers), mp_context=ctx, initializer=_init_worker, initargs=(queue,)
        ) as pool:
            # Largest first: PTP releases, then the main file.
            order = sorted(groups.items(), key=lambda kv: kv[0] == db.MAIN_FILE)
            futures = [
                pool.submit(build_main if store == db.MAIN_FILE else build_ptp, build / store, files)
                for store, files in order
            ]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
                _drain(queue, progress)
                for fut in done:
                    exc = fut.exception()
                    if exc is not None:
                        _stop(pool)
                        raise exc
                    for res in fut.result():
                        results[res.id] = res
            _drain(queue, progress)
        _write_releases(build, planned, results, data_dir)
    except LayoutMismatch:
        db.discard(build)
        raise
    except BaseException as exc:
        db.discard(build)
        if isinstance(exc, (IngestError, KeyboardInterrupt)):
            raise
        raise IngestError(f"ingest failed: {exc}") from exc
    db.swap_in(home, build)
    _prune_caches(home)
    summary = Summary(build=build, seconds=time.perf_counter() - t0)
    summary.files = [(pf, results[pf.id]) for pf in planned]
    summary.size_bytes = sum(f.stat().st_size for f in build.iterdir())
    return summary


def _prune_caches(home: Path) -> None:
    """Frames derived from builds that are gone (the batch engine's cache, never the build folder:
    a build is read-only once swapped in)."""
    from medcode.claims.batch.tables import prune_cache

    prune_cache(home)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the other workers now: their work is thrown away with the build."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()


def _drain(queue: Any, progress: ProgressFn | None) -> None:
    if queue is None or progress is None:
        return
    while True:
        try:
            event, file_id, rows = queue.get_nowait()
        except Exception:
            return
        progress(event, file_id, rows)
