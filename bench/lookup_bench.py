"""get_code in-process: latency percentiles over a realistic mix of codes.

.venv/bin/python bench/lookup_bench.py
"""

from __future__ import annotations

import random
import statistics
import time

import medcode
from medcode.lookup import get_code


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p / 100 * len(xs)))]


def run(label: str, kb: medcode.KnowledgeBase, codes: list[str], **kw: object) -> None:
    for c in codes[:50]:
        get_code(kb, c, **kw)  # warm the page cache, not the answers: nothing is memoised
    times = []
    for c in codes:
        t = time.perf_counter_ns()
        get_code(kb, c, **kw)
        times.append((time.perf_counter_ns() - t) / 1e6)
    print(
        f"{label}: n={len(times)} p50={statistics.median(times):.3f} ms "
        f"p95={pct(times, 95):.3f} ms p99={pct(times, 99):.3f} ms max={max(times):.3f} ms"
    )


def main() -> None:
    kb = medcode.open_kb()
    rng = random.Random(7)
    pfs = [
        r[0]
        for r in kb.query(
            "SELECT DISTINCT hcpcs FROM rvus WHERE release_id = ? AND modifier = ''",
            (kb.resolve("pprrvu", None).release.ids[0],),
        )
    ]
    icd = [r[0] for r in kb.query("SELECT code FROM icd10cm_codes WHERE billable = 1")]
    run("get_code 20702 repeated", kb, ["20702"] * 2000)
    run("get_code random CPT/HCPCS", kb, rng.choices(pfs, k=3000))
    run("get_code random ICD-10-CM", kb, rng.choices(icd, k=3000))


if __name__ == "__main__":
    main()
