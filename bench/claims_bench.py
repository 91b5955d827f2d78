"""Claim checker speed: one 10-line claim in-process, and a generated batch as CSV and 837P.

    .venv/bin/python bench/claims_bench.py [LINES] [--engines claim,batch,spark]

LINES defaults to 1,000,000; engines default to all three. Each engine checks the same files
(bench/gen_claims.py) and reports lines per second and the peak memory (RSS) of a process of its
own: the per-claim engine (medcode.claims.Checker over a streamed file), the batch engine
(Polars, medcode.claims.batch), and the Spark job on local[2] (driver and Python workers summed
at their peaks would be higher: the figure is the driver's). Each line also prints the number
of findings, which must be the same for every engine.

These are the engines' own figures, timed inside a process already started. What a biller waits
for, the whole `medcode check` command with its report, is measured by bench/command_bench.py.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import medcode
from medcode.claims import Checker, Claim, Line, read_path

HERE = Path(__file__).parent
TEN = ["99213", "20610", "11042", "97110", "97140", "85025", "80053", "36415", "93000", "71046"]


def one_claim(checker: Checker) -> None:
    claim = Claim(
        "BENCH",
        tuple(Line(i + 1, c, pointers=(1,)) for i, c in enumerate(TEN)),
        date=date(2026, 5, 1),
        place_of_service="11",
        zip_code="10001",
        diagnoses=("M17.11",),
    )
    checker.check(claim)  # loads the reference tables once
    times = []
    for _ in range(2000):
        t = time.perf_counter_ns()
        checker.check(claim)
        times.append((time.perf_counter_ns() - t) / 1e6)
    times.sort()
    print(f"one 10-line claim: p50 {statistics.median(times):.3f} ms, p99 {times[int(0.99 * len(times))]:.3f} ms")


def run_engine(engine: str, path: str) -> None:
    """Runs in a process of its own (``--run ENGINE FILE``)."""
    kb = medcode.open_kb()
    t = time.perf_counter()
    lines = findings = 0
    if engine == "claim":
        checker = Checker(kb)
        for claim in read_path(path):
            result = checker.check(claim)
            lines += len(claim.lines)
            findings += len(result.findings)
    elif engine == "batch":
        from medcode.claims.batch import check_file

        for piece in check_file(kb, path):
            lines += piece.lines.height
            findings += piece.findings.height
    else:
        from medcode.claims import spark

        session = spark.session("local[2]")
        session.sparkContext.setLogLevel("ERROR")
        t = time.perf_counter()  # the session start (about 5 s) is not counted
        piece = spark.check_file(path, spark=session)
        lines, findings = piece.lines.height, piece.findings.height
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{engine:5s} engine, {Path(path).suffix[1:].upper()}: {lines:,} lines, {findings:,} findings in "
        f"{seconds:.1f} s = {lines / seconds:,.0f} lines/s; peak RSS {peak:,.0f} MB",
        flush=True,
    )


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--run"]:
        run_engine(args[1], args[2])
        return
    engines = args[args.index("--engines") + 1].split(",") if "--engines" in args else ["claim", "batch", "spark"]
    numbers = [a for a in args if a.isdigit()]
    n = int(numbers[0]) if numbers else 1_000_000
    one_claim(Checker(medcode.open_kb()))
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".csv", ".837"):
            path = Path(tmp) / f"claims{suffix}"
            subprocess.run(
                [sys.executable, str(HERE / "gen_claims.py"), str(n), str(path)], check=True, stdout=subprocess.DEVNULL
            )
            for engine in engines:
                subprocess.run(
                    [sys.executable, __file__, "--run", engine, str(path)], check=True, stderr=subprocess.DEVNULL
                )


if __name__ == "__main__":
    main()
