"""The concept index alone on the search development set: recall@10 and MRR of ConceptIndex.lookup by kind
and system, the build (or load) time and lookup latency.

    MEDCODE_HOME=... .venv/bin/python bench/concept_bench.py [--semantic] [--all-systems] [--misses]

A query is a hit when one of its codes is in the top 10. The concept index holds no code made with a 7th
character (the coding rules add it), so such a gold code also counts when its parent is found. Queries
are limited to their system (CPT rows to CPT and HCPCS) unless --all-systems.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

from medcode import settings
from medcode.kb.store import open_kb
from medcode.language.index import concept_index

DEV = Path(__file__).parent / "search_dev.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semantic", action="store_true", help="fuse the semantic ranking when its cache exists")
    parser.add_argument("--all-systems", action="store_true", help="do not limit a query to its system")
    parser.add_argument("--misses", action="store_true", help="print the queries missed")
    args = parser.parse_args()
    kb = open_kb(settings.load().home)
    started = time.perf_counter()
    index = concept_index(kb)
    print(f"concept index: {len(index.terms):,} terms in {time.perf_counter() - started:.2f} s", end="")
    print(f"; semantic ready: {index.semantic_ready()}")
    parents = dict(kb.query("SELECT code, parent FROM icd10cm_codes WHERE kind = 'extension'"))
    rows = [line.rstrip("\n").split("\t") for line in DEV.open() if line.strip() and not line.startswith("#")]
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    latency = []
    for kind, system, query, codes in rows:
        gold = set(codes.split())
        gold |= {parents[c] for c in gold if c in parents}
        systems = None if args.all_systems else ("ICD-10-CM",) if system == "ICD-10-CM" else ("CPT", "HCPCS")
        t0 = time.perf_counter()
        found = [c.code for c in index.lookup(query, 10, systems=systems, semantic=args.semantic)]
        latency.append((time.perf_counter() - t0) * 1000)
        rank = next((i for i, code in enumerate(found, start=1) if code in gold), None)
        for key in ("all", f"kind {kind}", f"system {system}"):
            s = stats[key]
            s[0] += 1
            s[1] += rank is not None
            s[2] += 1 / rank if rank else 0.0
        if rank is None and args.misses:
            print(f"miss: {kind}\t{system}\t{query}\t{codes}\t{' '.join(found[:5])}")
    for key, (n, hits, rr) in sorted(stats.items()):
        print(f"{key:22s} n={int(n):4d}  recall@10 {hits / n:.3f}  MRR {rr / n:.3f}")
    latency.sort()
    p95 = latency[int(len(latency) * 0.95)]
    print(f"lookup latency: p50 {statistics.median(latency):.2f} ms, p95 {p95:.2f} ms (first call of each query)")


if __name__ == "__main__":
    main()
