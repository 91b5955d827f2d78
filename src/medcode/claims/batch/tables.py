"""Reference tables as Polars frames for the batch engine, read from the knowledge base in the
same order as ``Facts`` reads them (so "the first row in force" is the same row).

Building a frame takes from a tenth of a second (the ICD-10-CM tables) to seconds (the PTP
tables hold millions of rows), so each is kept as an Arrow IPC file the first time it is needed,
in a cache folder of the home folder, one per build (``cache_dir``: ``MEDCODE_HOME/cache/batch/
<build>-<hash of its path>/``), never in the build folder itself: a knowledge base is read-only
once swapped in (it may be a read-only directory, or shared by several homes). The frames a check
needs depend on the releases in force on its claims' dates, which only the claim file tells, so
they are made at run time rather than by ``medcode ingest``; ingest removes the cache folders of
builds that are gone (``prune_cache``). A build never changes, so the files only go stale when
this module changes what a frame holds: ``FORMAT`` is in their names, and goes up with such a
change. Where no cache folder can be written the frames are only kept in memory.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from itertools import islice
from pathlib import Path

import polars as pl

from medcode.claims.facts import PFS_COLUMNS, Facts, icd_lineage
from medcode.claims.reprice import GPCIS_SQL, RVUS_SQL
from medcode.kb.store import KnowledgeBase

log = logging.getLogger(__name__)

_LOCK = threading.RLock()


def _memo(kb: KnowledgeBase, key: tuple, make):  # noqa: ANN001, ANN202
    with _LOCK:  # once, when pieces are checked in two threads
        memo = kb.memo.setdefault("batch", {})
        if key not in memo:
            memo[key] = make()
        return memo[key]


FORMAT = 3  # of the kept files: up by one whenever a frame function below changes its output


def cache_dir(kb: KnowledgeBase) -> Path:
    """The folder that keeps the frames of ``kb``'s build: in the home folder the build belongs to
    (``HOME/builds/<build>``), else in ``MEDCODE_HOME``; named by the build and its path."""
    build = kb.path
    if build.parent.name == "builds":
        home = build.parent.parent
    else:
        from medcode import settings

        home = settings.load().home
    digest = hashlib.sha256(str(build).encode()).hexdigest()[:12]
    return home / "cache" / "batch" / f"{build.name}-{digest}"


def prune_cache(home: Path) -> list[Path]:
    """Removes the cache folders of builds that no longer exist (``medcode ingest`` calls it after
    swapping a build in); returns the folders removed."""
    removed: list[Path] = []
    root = home / "cache" / "batch"
    try:
        folders = sorted(root.iterdir())
    except OSError:  # none yet, or not readable: nothing to prune
        return removed
    for folder in folders:
        try:
            build = Path((folder / BUILD_FILE).read_text(encoding="utf-8").strip())
        except OSError:
            build = None
        if build is None or not (build / "kb.sqlite").exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


BUILD_FILE = "build.txt"  # in a cache folder: the path of the build its frames come from


def _kept(path: Path, make, build: Path | None = None):  # noqa: ANN001, ANN202
    """The frame kept in ``path``, made by ``make()`` and written there the first time (with the
    ``build`` it comes from named in the folder, for ``prune_cache``)."""
    if path.exists():
        return pl.read_ipc(path)
    frame = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if build is not None and not (path.parent / BUILD_FILE).exists():
            (path.parent / BUILD_FILE).write_text(f"{build}\n", encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        frame.write_ipc(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("%s kept in memory only (%s)", path.name, exc)
    return frame


def remembered(fn):  # noqa: ANN001, ANN201
    """A frame function of (facts or kb, release ids), remembered on the knowledge base and kept
    in its cache folder (``cache_dir``)."""

    def wrapper(source, rids):  # noqa: ANN001, ANN202
        kb = getattr(source, "kb", source)
        rids = sorted(rids)
        if not rids:  # an empty frame: nothing worth a file
            return _memo(kb, (fn.__name__, ()), lambda: fn(source, rids))
        path = cache_dir(kb) / f"{fn.__name__}-{'-'.join(map(str, rids))}.v{FORMAT}.arrow"
        return _memo(kb, (fn.__name__, tuple(rids)), lambda: _kept(path, lambda: fn(source, rids), kb.path))

    wrapper.__doc__ = fn.__doc__
    return wrapper


PTP_SHIFT = 20  # an edit's key: the column 1 code's number << PTP_SHIFT | the column 2 code's number


def ptp(kb: KnowledgeBase, store: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(codes, edits)`` of a PTP store: ``codes`` numbers every code the store names (``code``,
    ``ix``, in code order); ``edits`` holds every edit in column 1, column 2 order (the order
    ``Facts`` reads them in) as ``key`` (see ``PTP_SHIFT``), ``ptp_row`` (its place in that
    order), ``effective`` and ``deleted`` (YYYYMMDD), ``modifier`` and ``rationale_id``.
    Joining on one integer is several times faster than on two code strings."""
    return _memo(kb, ("ptp", store), lambda: _ptp_cached(kb, store))


def _ptp_cached(kb: KnowledgeBase, store: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    stem = cache_dir(kb) / Path(store).stem
    codes_path, edits_path = Path(f"{stem}.codes.v{FORMAT}.arrow"), Path(f"{stem}.keyed.v{FORMAT}.arrow")
    if codes_path.exists() and edits_path.exists():
        return pl.read_ipc(codes_path), pl.read_ipc(edits_path)
    codes, edits = _ptp_frames(kb, store)
    return _kept(codes_path, lambda: codes, kb.path), _kept(edits_path, lambda: edits, kb.path)


def _ptp_frames(kb: KnowledgeBase, store: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    cur = kb.ptp(store).execute(
        "SELECT column_1, column_2, effective, deleted, modifier, rationale_id FROM ptp_edits "
        "ORDER BY column_1, column_2, deleted, effective, modifier, rationale_id"
    )
    schema = {
        "c1": pl.String,
        "c2": pl.String,
        "effective": pl.Int32,
        "deleted": pl.Int32,
        "modifier": pl.Int8,
        "rationale_id": pl.Int32,
    }
    parts = []
    while rows := list(islice(cur, 500_000)):
        parts.append(pl.DataFrame(rows, schema=schema, orient="row"))
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    codes = (
        pl.concat([frame["c1"], frame["c2"]])
        .unique()
        .sort()
        .to_frame("code")
        .with_row_index("ix")
        .select("code", pl.col("ix").cast(pl.Int64))
    )
    if codes.height >= 1 << PTP_SHIFT:
        raise ValueError(f"{store}: {codes.height} codes do not fit the PTP key")
    edits = (
        frame.with_row_index("ptp_row")
        .join(codes.rename({"code": "c1", "ix": "i1"}), on="c1", maintain_order="left")
        .join(codes.rename({"code": "c2", "ix": "i2"}), on="c2", maintain_order="left")
        .select(
            key=pl.col("i1") * (1 << PTP_SHIFT) + pl.col("i2"),
            ptp_row=pl.col("ptp_row").cast(pl.Int64),
            effective="effective",
            deleted="deleted",
            modifier="modifier",
            rationale_id="rationale_id",
        )
    )
    return codes, edits


@remembered
def pfs(facts: Facts, rids: list[int]) -> pl.DataFrame:
    """PFS indicators of every code in the releases ``rids``: its own row (``row_mod`` '') and its
    26, TC and 53 rows (``Facts.pfs``)."""
    rows = []
    for rid in rids:
        for code, by_mod in facts.table_at("pprrvu", rid, facts._load_pfs).items():
            for mod, row in by_mod.items():
                rows.append((rid, code, mod, *row[:7]))
    return pl.DataFrame(
        rows,
        schema={"pfs_rid": pl.Int64, "code": pl.String, "row_mod": pl.String, **dict.fromkeys(PFS_COLUMNS, pl.String)},
        orient="row",
    )


@remembered
def aoc(facts: Facts, rids: list[int]) -> pl.DataFrame:
    """Add-on code edits in ``Facts`` order, one row per add-on and primary."""
    rows = []
    n = 0
    for rid in rids:
        for addon, edits in facts.table_at("aoc", rid, facts._load_aoc).items():
            for etype, primary, eff, dele, _line in edits:
                rows.append((rid, n, addon, etype, primary, eff, dele))
                n += 1
    return pl.DataFrame(
        rows,
        schema={
            "aoc_rid": pl.Int64,
            "aoc_row": pl.Int64,
            "code": pl.String,
            "edit_type": pl.String,
            "primary": pl.String,
            "effective": pl.String,
            "deleted": pl.String,
        },
        orient="row",
    )


@remembered
def aoc_changes(facts: Facts, rids: list[int]) -> pl.DataFrame:
    """(aoc_rid, code, date, out): the days the edits of each add-on code change: an effective
    date (``out`` false: in force from that day) or a deletion date (``out`` true: in force until
    that day, out from the next; ``ncci.in_force``)."""
    edits = aoc(facts, rids)
    dates = [
        edits.select("aoc_rid", "code", date=pl.col(c), out=pl.lit(c == "deleted")) for c in ("effective", "deleted")
    ]
    return pl.concat(dates).drop_nulls().unique()


@remembered
def mue(facts: Facts, rids: list[int]) -> pl.DataFrame:
    rows = [
        (rid, code, float(row[0]), row[1], row[2], row[3])
        for rid in rids
        for code, row in facts.table_at("mue_practitioner", rid, facts._load_mue).items()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "mue_rid": pl.Int64,
            "code": pl.String,
            "mue_units": pl.Float64,
            "mai": pl.String,
            "rationale": pl.String,
            "mue_line": pl.Int64,
        },
        orient="row",
    )


@remembered
def excludes1_ranges(facts: Facts, rids: list[int]) -> pl.DataFrame:
    """(icd_rid, compact, low, high, cat): the Excludes1 references in force for every ICD-10-CM
    code of the releases, from the notes of the code, its parents, its block and its chapter
    (``facts.icd_lineage``), as ranges of compact codes (``facts.excludes1_range``), one row per
    category (``cat``, three characters) the range reaches, for joining with a claim's codes."""
    rows: list[tuple] = []
    for rid in rids:
        codes, notes = facts.table_at("icd10cm", rid, facts._load_icd)
        categories = sorted({c[:3] for c in codes})
        for compact, row in codes.items():
            found = {(low, high) for here in icd_lineage(codes, row[0]) for _, low, high in notes.get(here, ())}
            for low, high in found:
                start = bisect.bisect_left(categories, low[:3])
                end = bisect.bisect_right(categories, high[:3])
                rows.extend((rid, compact, low, high, cat) for cat in categories[start:end])
    return pl.DataFrame(
        rows,
        schema={"icd_rid": pl.Int64, "compact": pl.String, "low": pl.String, "high": pl.String, "cat": pl.String},
        orient="row",
    )


@remembered
def icd_billable(facts: Facts, rids: list[int]) -> pl.DataFrame:
    rows = [
        (rid, compact)
        for rid in rids
        for compact, row in facts.table_at("icd10cm", rid, facts._load_icd)[0].items()
        if row[1]
    ]
    return pl.DataFrame(rows, schema={"icd_rid": pl.Int64, "compact": pl.String}, orient="row")


@remembered
def rvus(kb: KnowledgeBase, rids: list[int]) -> pl.DataFrame:
    """RVU rows for pricing, every modifier row, with amounts as exact integers where the file's
    precision allows (RVUs to 1/100, conversion factor to 1/10,000)."""
    rows = [(rid, *r) for rid in rids for r in kb.query(RVUS_SQL, (rid,))]
    return pl.DataFrame(
        rows,
        schema={
            "pfs_rid": pl.Int64,
            "code": pl.String,
            "pfs_mod": pl.String,
            "work": pl.Float64,
            "pe_nf": pl.Float64,
            "pe_f": pl.Float64,
            "mp": pl.Float64,
            "total_nf": pl.Float64,
            "total_f": pl.Float64,
            "pe_nf_na": pl.String,
            "pe_f_na": pl.String,
            "cf": pl.Float64,
            "status": pl.String,
            "opps_pe_nf": pl.Float64,
            "opps_pe_f": pl.Float64,
            "opps_mp": pl.Float64,
            "pctc": pl.String,
            "endo_base": pl.String,
            "mult_proc_row": pl.String,
        },
        orient="row",
    ).unique(["pfs_rid", "code", "pfs_mod"], keep="last", maintain_order=True)


@remembered
def gpcis(kb: KnowledgeBase, rids: list[int]) -> pl.DataFrame:
    rows = [(rid, *r) for rid in rids for r in kb.query(GPCIS_SQL, (rid,))]
    return pl.DataFrame(
        rows,
        schema={
            "gpci_rid": pl.Int64,
            "mac": pl.String,
            "loc": pl.String,
            "pw": pl.Float64,
            "pw_floor": pl.Float64,
            "pe_g": pl.Float64,
            "mp_g": pl.Float64,
        },
        orient="row",
    ).unique(["gpci_rid", "mac", "loc"], keep="last", maintain_order=True)


@remembered
def zip_localities(kb: KnowledgeBase, rids: list[int]) -> pl.DataFrame:
    """(zip_rid, zip5, mac, loc): the locality of each ZIP code."""
    rows = [
        r
        for rid in rids
        for r in kb.query("SELECT release_id, zip, mac, locality FROM zip_localities WHERE release_id = ?", (rid,))
    ]
    return pl.DataFrame(
        rows, schema={"zip_rid": pl.Int64, "zip5": pl.String, "mac": pl.String, "loc": pl.String}, orient="row"
    )  # one row per ZIP code and release (the table's key)


@remembered
def locality_names(kb: KnowledgeBase, rids: list[int]) -> pl.DataFrame:
    """(gpci_rid, mac, loc, name) of each locality in the GPCI file."""
    rows = [
        r
        for rid in rids
        for r in kb.query("SELECT release_id, mac, locality, name FROM gpcis WHERE release_id = ?", (rid,))
    ]
    return pl.DataFrame(
        rows, schema={"gpci_rid": pl.Int64, "mac": pl.String, "loc": pl.String, "name": pl.String}, orient="row"
    )  # one row per locality and release (the table's key)


@remembered
def opps_caps(kb: KnowledgeBase, rids: list[int]) -> pl.DataFrame:
    rows = [
        r
        for rid in rids
        for r in kb.query(
            "SELECT release_id, hcpcs, modifier, mac, locality, facility, nonfacility FROM opps_caps "
            "WHERE release_id = ?",
            (rid,),
        )
    ]
    return pl.DataFrame(
        rows,
        schema={
            "cap_rid": pl.Int64,
            "code": pl.String,
            "pfs_mod": pl.String,
            "mac": pl.String,
            "loc": pl.String,
            "cap_f": pl.Float64,
            "cap_nf": pl.Float64,
        },
        orient="row",
    ).unique(["cap_rid", "code", "pfs_mod", "mac", "loc"], keep="first", maintain_order=True)


def scaled(column: str, digits: int) -> pl.Expr:
    """The column as an integer number of 10^-digits, null where it has more digits than that."""
    x = pl.col(column) * 10**digits
    r = x.round(0)
    return pl.when((x - r).abs() < 1e-6).then(r.cast(pl.Int64)).otherwise(None)
