"""Web site speed: code page server time, page weight, and search-as-you-type round trips.

    .venv/bin/python bench/web_bench.py [--pages N]

Starts `medcode serve` (one worker, answer cache off) on a free loopback port over the built
knowledge base, then, one request at a time as one user would:
- GET /codes/{code} for N different CPT/HCPCS codes (each page rendered once: no page cache hit),
  with and without a locality cookie; prints the server time (its Server-Timing header) and the
  round trip, p50 and p95, and the bytes of the 20702 page with its CSS and JavaScript;
- GET /api/autocomplete for every prefix (two characters and up) of the text queries in
  bench/search_queries.tsv, as the page's script sends them; prints the round trip p50 and p95.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

import medcode

HERE = Path(__file__).parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def start() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCODE_CACHE_MB="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def code_pages(client: httpx.Client, codes: list[str], cookies: dict[str, str]) -> None:
    server, trip = [], []
    for code in codes:
        t = time.perf_counter()
        r = client.get(f"/codes/{code}", cookies=cookies)
        trip.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
    what = "with a locality" if cookies else "national"
    print(
        f"code page ({what}, {len(codes)} codes): server p50 {statistics.median(server):.1f} ms, "
        f"p95 {pct(server, 95):.1f} ms; round trip p50 {statistics.median(trip):.1f} ms, p95 {pct(trip, 95):.1f} ms"
    )


def main() -> None:
    n = int(sys.argv[sys.argv.index("--pages") + 1]) if "--pages" in sys.argv else 300
    kb = medcode.open_kb()
    rel = kb.releases["pprrvu"][-1].ids[0]
    rows = kb.query(
        "SELECT hcpcs FROM rvus WHERE release_id = ? AND modifier = '' AND status IN ('A', 'R', 'T') ORDER BY hcpcs",
        (rel,),
    )
    step = max(1, len(rows) // (2 * n))
    codes = [r[0] for r in rows[::step]][: 2 * n]
    proc, base = start()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for c in codes[:20]:
                client.get(f"/codes/{c}")  # warm-up (templates, first queries); those codes are not measured
            code_pages(client, codes[20:n], {})
            code_pages(client, codes[n : 2 * n], {"medcode_locality": "13202-01"})
            page = client.get("/codes/20702", cookies={"medcode_locality": "13202-01"}).content
            css = client.get("/static/site.css").content
            js = client.get("/static/site.js").content
            total = len(page) + len(css) + len(js)
            print(
                f"page weight /codes/20702 with a locality: HTML {len(page):,} + CSS {len(css):,} + JS {len(js):,} "
                f"= {total:,} bytes ({total / 1024:.1f} KB)"
            )
            queries = []
            for line in (HERE / "search_queries.tsv").read_text().splitlines():
                if line and not line.startswith("#"):
                    q, _, kind = line.split("\t")
                    if kind != "code":
                        queries.append(q)
            prefixes = [q[:i] for q in queries for i in range(2, len(q) + 1)]
            trips = []
            for p in prefixes:
                t = time.perf_counter()
                client.get(f"/api/autocomplete?limit=8&q={quote(p)}").raise_for_status()
                trips.append((time.perf_counter() - t) * 1000)
            print(
                f"autocomplete round trip ({len(prefixes)} prefixes of {len(queries)} queries, answer cache off): "
                f"p50 {statistics.median(trips):.1f} ms, p95 {pct(trips, 95):.1f} ms, max {max(trips):.1f} ms"
            )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
