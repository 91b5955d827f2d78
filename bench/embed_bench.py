"""Speed of the semantic step: building the embedding cache, and one semantic search on it.

    .venv/bin/python bench/embed_bench.py [--home HOME] [--sample N] [--queries Q] [--full]

Texts: the terms of the knowledge base's ConceptIndex (``medcode.language.index``) when that module
exists, else the distinct ICD-10-CM titles of the knowledge base. Prints:

- build speed (texts/s) on ``--sample`` texts (default 6,000, a spread over the whole list), built
  in a temporary folder twice: in the given order, and sorted by token length (what ``Vectors.build``
  does), both with the model's default threads;
- with ``--full``: builds (or resumes) the real cache under HOME, as ``medcode embed`` does, and
  prints the whole time;
- query latency p50/p95 of ``Vectors.search`` (encode the query, dot product with the whole matrix,
  top 50) on the full matrix when it is built, else on a stand-in of the same size (the sample's
  vectors repeated), and the part of it that is the dot product and ranking alone;
- the process's resident memory (RSS) now and at its peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from medcode.kb.store import open_kb
from medcode.language.embed import encoder
from medcode.language.vectors import Vectors

QUERIES = [
    "arthritis in both knees",
    "pain when swallowing",
    "fell off a ladder at work",
    "removal of a mole on the back",
    "sugar diabetes with eye damage",
    "shot in the shoulder joint",
    "ultrasound of the belly",
    "overdose of sleeping pills",
    "ear infection in a child",
    "cut on the finger stitched",
    "wheelchair cushion",
    "insulin pump supplies",
]


def texts_of(kb: Any, home: Path) -> tuple[str, list[str], str | None]:
    try:
        from medcode.language.index import concept_index
    except ImportError:
        rows = kb.conn.execute("SELECT DISTINCT description FROM icd10cm_codes ORDER BY description").fetchall()
        return "ICD-10-CM titles (no ConceptIndex yet)", [r[0] for r in rows], None
    index = concept_index(kb, home)
    return "ConceptIndex terms", [t.text for t in index.terms], index.key


def rss_mb() -> tuple[float, float]:
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return resident / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_speed(sample: list[str]) -> None:
    enc = encoder()
    enc.encode(sample[:64])  # warm up
    started = time.perf_counter()
    enc.encode(sample, batch_size=64)
    unsorted = len(sample) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        vectors = Vectors.open(Path(tmp), "bench", sample)
        started = time.perf_counter()
        vectors.build()
        built = len(set(sample)) / (time.perf_counter() - started)
    print(
        f"build speed on {len(sample):,} texts: {unsorted:,.0f} texts/s in the given order, "
        f"{built:,.0f} texts/s sorted by length (Vectors.build, {enc.threads} threads)"
    )


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return f"p50 {statistics.median(times) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def query_latency(vectors: Vectors, rounds: int) -> None:
    enc = encoder()
    whole, ranking = [], []
    for q in (QUERIES * (rounds // len(QUERIES) + 1))[:rounds]:
        started = time.perf_counter()
        vectors.search(q, 50)
        whole.append(time.perf_counter() - started)
        vector = enc.encode([q])[0]
        started = time.perf_counter()
        vectors.nearest(vector, 50)
        ranking.append(time.perf_counter() - started)
    rows = vectors.matrix().shape[0]
    print(
        f"search on {rows:,} rows ({rounds} queries, k=50): {percentiles(whole)}; "
        f"dot product and ranking alone: {percentiles(ranking)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=Path(os.environ.get("MEDCODE_HOME") or "/work/testhome"))
    ap.add_argument("--sample", type=int, default=6000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--full", action="store_true", help="build (or resume) the real cache under HOME")
    args = ap.parse_args()

    kb = open_kb(args.home)
    what, texts, key = texts_of(kb, args.home)
    print(f"texts: {len(texts):,} {what} ({len(set(texts)):,} distinct)")
    now, _ = rss_mb()
    print(f"RSS with the knowledge base and the texts loaded: {now:,.0f} MB")
    step = max(1, len(texts) // args.sample)
    sample = texts[::step][: args.sample]

    real = Vectors.open(args.home, key, texts) if key else None
    if real is not None and args.full and not real.ready():
        started = time.perf_counter()
        real.build()
        print(f"full build of {len(texts):,} texts: {time.perf_counter() - started:.0f} s ({real.directory})")
    if real is not None and real.ready():
        query_latency(real, args.queries)
        now, _ = rss_mb()
        print(f"RSS with the encoder and the int8 scorer loaded as well: {now:,.0f} MB")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            small = Vectors.open(Path(tmp), "bench", sample)
            small.build()
            rows = np.resize(np.asarray(small.matrix()), (max(len(texts), 150_000), small.matrix().shape[1]))
            stand_in = Vectors(Path(tmp) / "stand-in", "stand-in", [""] * len(rows))
            stand_in.store(rows)
            del rows, small
            assert stand_in.ready()
            print("(the full cache is not built: a stand-in matrix of the sample's vectors repeated)")
            query_latency(stand_in, args.queries)
    build_speed(sample)
    now, peak = rss_mb()
    print(f"RSS at the end {now:,.0f} MB, peak {peak:,.0f} MB")


if __name__ == "__main__":
    main()
