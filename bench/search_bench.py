"""Search relevance (recall@10, MRR@10 over bench/search_queries.tsv) and speed.

.venv/bin/python bench/search_bench.py [--misses] [--words-only]

--words-only: search without the semantic step (``search(..., semantic=False)``), as when the
embedding cache is not built.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import medcode
from medcode.search import autocomplete, search

QUERIES = Path(__file__).with_name("search_queries.tsv")
SEMANTIC = "--words-only" not in sys.argv


def load() -> list[tuple[str, set[str], str]]:
    out = []
    for line in QUERIES.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        query, expected, kind = line.split("\t")
        out.append((query, set(expected.split(",")), kind))
    return out


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p / 100 * len(xs)))]


def relevance(kb: medcode.KnowledgeBase, queries: list[tuple[str, set[str], str]], show: bool) -> None:
    known = {r[0] for r in kb.query("SELECT code FROM search_docs")}
    missing = sorted({c for _, exp, _ in queries for c in exp} - known)
    if missing:
        print(f"note: expected codes not in the knowledge base (ignored): {', '.join(missing)}")
    by_kind: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for query, expected, kind in queries:
        expected &= known
        if not expected:
            continue
        codes = [h.code for h in search(kb, query, limit=10, semantic=SEMANTIC).hits]
        rank = next((i for i, c in enumerate(codes, start=1) if c in expected), None)
        by_kind[kind].append((rank is not None, 1 / rank if rank else 0.0))
        if show and (rank is None or rank > 3):
            print(
                f"  {'MISS' if rank is None else f'rank {rank}'}: {query!r} expected {sorted(expected)[:4]} "
                f"got {codes[:5]}"
            )
    every = [x for xs in by_kind.values() for x in xs]
    for kind, xs in sorted(by_kind.items()):
        print(
            f"{kind:13s} n={len(xs):3d} recall@10={sum(h for h, _ in xs) / len(xs):.3f} "
            f"MRR@10={sum(r for _, r in xs) / len(xs):.3f}"
        )
    print(
        f"{'ALL':13s} n={len(every):3d} recall@10={sum(h for h, _ in every) / len(every):.3f} "
        f"MRR@10={sum(r for _, r in every) / len(every):.3f}"
    )


def speed(kb: medcode.KnowledgeBase, queries: list[tuple[str, set[str], str]]) -> None:
    words = [q for q, _, kind in queries if kind not in ("code", "prefix", "range")]
    for q in words:
        search(kb, q, semantic=SEMANTIC)  # warm the page cache
    times = []
    for _ in range(5):
        for q in words:
            t = time.perf_counter_ns()
            search(kb, q, limit=20, semantic=SEMANTIC)
            times.append((time.perf_counter_ns() - t) / 1e6)
    print(
        f"word search: n={len(times)} p50={statistics.median(times):.2f} ms p95={pct(times, 95):.2f} ms "
        f"max={max(times):.2f} ms"
    )
    rng = random.Random(3)
    prefixes = []
    for q in words + [q for q, _, kind in queries if kind == "code"]:
        for cut in range(1, len(q) + 1):
            prefixes.append(q[:cut])
    rng.shuffle(prefixes)
    times = autocomplete_times(kb, prefixes)
    print(
        f"autocomplete (every prefix of the queries): n={len(times)} p50={statistics.median(times):.2f} ms "
        f"p95={pct(times, 95):.2f} ms max={max(times):.2f} ms"
    )


def autocomplete_times(kb: Any, prefixes: list[str]) -> list[float]:
    """Milliseconds of autocomplete for each prefix, after 200 calls to warm up."""
    for q in prefixes[:200]:
        autocomplete(kb, q)
    times = []
    for q in prefixes:
        t = time.perf_counter_ns()
        autocomplete(kb, q)
        times.append((time.perf_counter_ns() - t) / 1e6)
    return times


def main() -> None:
    kb = medcode.open_kb()
    queries = load()
    print(f"{len(queries)} queries; semantic step {'on (when the embedding cache is built)' if SEMANTIC else 'off'}")
    relevance(kb, queries, "--misses" in sys.argv)
    speed(kb, queries)


if __name__ == "__main__":
    main()
