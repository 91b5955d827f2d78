"""Job board search speed: 10,000 open jobs, filtered searches over HTTP (`GET /api/jobs` and the `/jobs` page)
against `medcode serve` (one worker), sequential requests on one keep-alive connection.

    MEDCODE_HOME=/work/testhome .venv/bin/python bench/jobs_bench.py [--jobs 10000] [--requests 400]
        [--database-url postgresql://...]

The application database is a fresh SQLite file (or a PostgreSQL database named by --database-url: it is migrated
and jobs are added to it). Jobs are made from word pools with a fixed seed: titles, employers, locations,
credentials, specialties, settings, pay and a description of about 60 words. The target: p95 at most 30 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from medcode.app import accounts, db, jobs
from medcode.app.models_jobs import SETTINGS as JOB_SETTINGS

TITLES = ["coder", "auditor", "coding specialist", "coding analyst", "CDI specialist", "billing coder", "educator"]
LEVELS = ["", "senior ", "lead ", "remote ", "inpatient ", "outpatient ", "profee "]
SPECIALTIES = ["cardiology", "orthopedics", "oncology", "radiology", "emergency", "surgery", "pediatrics", "HCC"]
SETTINGS = list(JOB_SETTINGS)
FIRST = ["North", "Blue", "Summit", "River", "Prairie"]
SECOND = ["Health", "Billing", "Clinic", "Partners"]
PLACES = ["Omaha, NE", "Austin, TX", "Tampa, FL", "Boise, ID", "Columbus, OH", "Denver, CO", "Reno, NV"]
WORDS = (
    "charts claims denials modifiers guidelines documentation physicians queries productivity accuracy quality "
    "ICD-10-CM CPT HCPCS E/M evaluation management encounters abstracting compliance audits education provider "
    "feedback reimbursement payer rules edits NCCI bundling inpatient outpatient DRG risk adjustment HCC RAF chart "
    "review team growing benefits schedule flexible training EHR Epic Cerner volume turnaround surgical procedures"
).split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_jobs(rng: random.Random, n: int) -> list[jobs.JobInput]:
    out = []
    for _ in range(n):
        mode = rng.choice(["remote", "remote", "hybrid", "onsite"])
        hourly = rng.random() < 0.5
        low = rng.randint(20, 35) if hourly else rng.randint(45, 80) * 1000
        out.append(
            jobs.JobInput(
                title=(rng.choice(LEVELS) + rng.choice(TITLES)).strip(),
                employer_name=f"{rng.choice(FIRST)} {rng.choice(SECOND)}",
                work_mode=mode,
                location="" if mode == "remote" else rng.choice(PLACES),
                credentials=tuple(rng.sample(jobs.CREDENTIALS, rng.randint(1, 3))),
                specialty=rng.choice(SPECIALTIES),
                setting=rng.choice(SETTINGS),
                pay_min=low,
                pay_max=low + (rng.randint(2, 8) if hourly else rng.randint(5, 20) * 1000),
                pay_period="hour" if hourly else "year",
                description=" ".join(rng.choice(WORDS) for _ in range(60)),
                days=rng.randint(30, 90),
            )
        )
    return out


def queries(rng: random.Random, n: int) -> list[dict[str, str]]:
    out = []
    for _ in range(n):
        q: dict[str, str] = {}
        if rng.random() < 0.8:
            q["q"] = " ".join(rng.sample(WORDS + SPECIALTIES + TITLES, rng.randint(1, 2)))
        if rng.random() < 0.6:
            q["credential"] = rng.choice(jobs.CREDENTIALS[:8])
        if rng.random() < 0.5:
            q["remote"] = "true"
        if rng.random() < 0.3:
            q["specialty"] = rng.choice(SPECIALTIES)
        if rng.random() < 0.3:
            q["pay_min"] = str(rng.choice([50_000, 60_000, 70_000]))
        out.append(q or {"credential": "CPC"})
    return out


def measure(base: str, path: str, qs: list[dict[str, str]]) -> list[float]:
    times = []
    with httpx.Client(base_url=base, timeout=30) as c:
        for q in qs[:20]:
            c.get(path, params=q)  # warm
        for q in qs:
            t = time.perf_counter()
            r = c.get(path, params=q)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:200]
    return times


def report(name: str, times: list[float]) -> float:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name}: n={len(times)} p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")
    return p95


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    url = db.database_url(type("C", (), {"database_url": args.database_url, "home": folder})())
    db.upgrade(url)
    eng = db.engine(url)
    employer = accounts.create_user(eng, f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench password", "employer")
    rng = random.Random(17)
    t = time.perf_counter()
    made = make_jobs(rng, args.jobs)
    for i in range(0, len(made), 500):
        jobs.post_many(eng, employer, made[i : i + 500])
    print(f"{args.jobs:,} jobs posted in {time.perf_counter() - t:.1f} s ({db.safe_url(url)})")
    port = free_port()
    env = dict(os.environ, MEDCODE_DATABASE_URL=url, MEDCODE_EMBED="off", MEDCODE_QUOTAS="off")
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        qs = queries(random.Random(5), args.requests)
        with httpx.Client(base_url=base) as c:
            totals = [c.get("/api/jobs", params=q).json()["total"] for q in qs[:50]]
        print(f"matches per search (first 50): median {statistics.median(totals):.0f}, max {max(totals)}")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        report("GET /healthz (baseline: the machine and HTTP alone)", measure(base, "/healthz", [{}] * len(qs)))
        api = report("GET /api/jobs (filtered)", measure(base, "/api/jobs", qs))
        page = report("GET /jobs page (filtered)", measure(base, "/jobs", qs))
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"target p95 <= 30 ms: {'met' if max(api, page) <= 30 else 'NOT met'}")
    finally:
        proc.terminate()
        proc.wait(15)
        db.dispose_all()
        shutil.rmtree(folder, ignore_errors=True)  # the SQLite file (a PostgreSQL database is left as it is)


if __name__ == "__main__":
    main()
