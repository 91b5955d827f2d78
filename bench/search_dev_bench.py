"""Search relevance and speed on the development set bench/search_dev.tsv (issue 13).

Runs ``medcode.search.search(kb, query)`` in-process for every row and prints recall@10 and MRR@10
overall, by kind (lay, clinical, abbreviated, misspelt) and by system (CPT, HCPCS, ICD-10-CM), then
the p50/p95 latency of word search (and, with --autocomplete, of autocomplete on the first words).

    .venv/bin/python bench/search_dev_bench.py [--home DIR] [--file TSV] [--misses] [--autocomplete]
        [--kind KIND] [--system SYSTEM] [--repeat N]

A row is a hit when any of its codes is among the first 10 codes returned; the reciprocal rank of
the first such code counts towards MRR (0 when none is in the top 10). Codes are compared without
dots and case, so "E11.9" and "E119" are the same code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import medcode
from medcode.search import search

sys.path.insert(0, str(Path(__file__).parent))
from search_bench import autocomplete_times  # noqa: E402 (a sibling script)

DEFAULT_FILE = Path(__file__).with_name("search_dev.tsv")
KINDS = ("lay", "clinical", "abbreviated", "misspelt")
SYSTEMS = ("CPT", "HCPCS", "ICD-10-CM")
K = 10


@dataclass(frozen=True)
class Row:
    line: int
    kind: str
    system: str
    query: str
    codes: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    row: Row
    rank: int | None  # 1-based rank of the first expected code within the top K, None when missed
    got: tuple[str, ...]
    ms: float


def compact(code: str) -> str:
    return code.replace(".", "").strip().upper()


def load(path: Path) -> list[Row]:
    """The rows of ``path``; a malformed line stops with an error naming the file, line and field."""
    rows: list[Row] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            sys.exit(f"{path}:{n}: expected 4 tab-separated fields (kind, system, query, codes), found {len(fields)}")
        kind, system, query, codes = (f.strip() for f in fields)
        if kind not in KINDS:
            sys.exit(f"{path}:{n}: field kind: {kind!r} is not one of {', '.join(KINDS)}")
        if system not in SYSTEMS:
            sys.exit(f"{path}:{n}: field system: {system!r} is not one of {', '.join(SYSTEMS)}")
        if not query:
            sys.exit(f"{path}:{n}: field query is empty")
        expected = frozenset(compact(c) for c in codes.split())
        if not expected:
            sys.exit(f"{path}:{n}: field codes is empty")
        rows.append(Row(n, kind, system, query, expected))
    if not rows:
        sys.exit(f"{path}: no queries")
    return rows


def pct(xs: list[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(kb: medcode.KnowledgeBase, rows: list[Row]) -> list[Outcome]:
    out: list[Outcome] = []
    for row in rows:
        t = time.perf_counter_ns()
        hits = search(kb, row.query, limit=K).hits
        ms = (time.perf_counter_ns() - t) / 1e6
        got = tuple(compact(h.code) for h in hits[:K])
        rank = next((i for i, c in enumerate(got, start=1) if c in row.codes), None)
        out.append(Outcome(row, rank, got, ms))
    return out


def line(label: str, xs: list[Outcome]) -> str:
    if not xs:
        return f"{label:13s} n=  0"
    recall = sum(o.rank is not None for o in xs) / len(xs)
    mrr = sum(1 / o.rank for o in xs if o.rank) / len(xs)
    return f"{label:13s} n={len(xs):3d} recall@{K}={recall:.3f} MRR@{K}={mrr:.3f}"


def report(outcomes: list[Outcome]) -> None:
    print(line("ALL", outcomes))
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    by_system: dict[str, list[Outcome]] = defaultdict(list)
    by_both: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.row.kind].append(o)
        by_system[o.row.system].append(o)
        by_both[(o.row.system, o.row.kind)].append(o)
    print("by kind:")
    for kind in KINDS:
        if by_kind[kind]:
            print("  " + line(kind, by_kind[kind]))
    print("by system:")
    for system in SYSTEMS:
        if by_system[system]:
            print("  " + line(system, by_system[system]))
    print("by system and kind (recall@10 / MRR@10, n):")
    for system in SYSTEMS:
        cells = []
        for kind in KINDS:
            xs = by_both[(system, kind)]
            if xs:
                r = sum(o.rank is not None for o in xs) / len(xs)
                m = sum(1 / o.rank for o in xs if o.rank) / len(xs)
                cells.append(f"{kind} {r:.2f}/{m:.2f} ({len(xs)})")
        print(f"  {system:10s} " + "  ".join(cells))


def misses(outcomes: list[Outcome], kb: medcode.KnowledgeBase) -> None:
    print("misses (and hits below rank 3):")
    for o in outcomes:
        if o.rank is None or o.rank > 3:
            status = "MISS" if o.rank is None else f"rank {o.rank}"
            print(
                f"  {status:7s} [{o.row.kind}/{o.row.system}] {o.row.query!r} (line {o.row.line}) "
                f"expected {' '.join(sorted(o.row.codes)[:5])} got {' '.join(o.got[:6])}"
            )


def speed(kb: medcode.KnowledgeBase, rows: list[Row], repeat: int) -> None:
    times: list[float] = []
    for _ in range(repeat):
        for row in rows:
            t = time.perf_counter_ns()
            search(kb, row.query, limit=K)
            times.append((time.perf_counter_ns() - t) / 1e6)
    print(
        f"search latency (warm, {repeat}x{len(rows)}): p50={statistics.median(times):.2f} ms "
        f"p95={pct(times, 95):.2f} ms max={max(times):.2f} ms"
    )


def autocomplete_speed(kb: medcode.KnowledgeBase, rows: list[Row]) -> None:
    """Autocomplete as a user types: every prefix of the first two words of each query."""
    prefixes: list[str] = []
    for row in rows:
        head = " ".join(row.query.split()[:2])
        prefixes.extend(head[:cut] for cut in range(1, len(head) + 1))
    times = autocomplete_times(kb, prefixes)
    print(
        f"autocomplete latency (prefixes of the first two words, n={len(times)}): "
        f"p50={statistics.median(times):.2f} ms p95={pct(times, 95):.2f} ms max={max(times):.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="MEDCODE_HOME of the knowledge base (default: the MEDCODE_HOME setting)")
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE, help="queries (default: bench/search_dev.tsv)")
    ap.add_argument("--misses", action="store_true", help="print the misses and the hits below rank 3")
    ap.add_argument("--autocomplete", action="store_true", help="also time autocomplete")
    ap.add_argument("--kind", choices=KINDS, help="only this kind")
    ap.add_argument("--system", choices=SYSTEMS, help="only this system")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes over the queries after the scored one")
    args = ap.parse_args()
    rows = load(args.file)
    rows = [r for r in rows if args.kind in (None, r.kind) and args.system in (None, r.system)]
    if not rows:
        sys.exit("no queries match --kind/--system")
    t = time.perf_counter()
    kb = medcode.open_kb(args.home)
    print(f"{len(rows)} queries from {args.file}; MEDCODE_EMBED={os.environ.get('MEDCODE_EMBED', '(default)')}")
    search(kb, "warm up the search")  # first call loads indexes; not part of the figures
    print(f"open + first search: {time.perf_counter() - t:.1f} s")
    outcomes = run(kb, rows)
    report(outcomes)
    if args.misses:
        misses(outcomes, kb)
    first = [o.ms for o in outcomes]
    print(f"search latency (scored pass): p50={statistics.median(first):.2f} ms p95={pct(first, 95):.2f} ms")
    if args.repeat > 0:
        speed(kb, rows, args.repeat)
    if args.autocomplete:
        autocomplete_speed(kb, rows)


if __name__ == "__main__":
    main()
