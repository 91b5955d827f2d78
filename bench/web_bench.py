"""Web site speed: code page server time, page weight, and search-as-you-type round trips.

    .venv/bin/python bench/web_bench.py [--pages N]

Starts `medcode serve` (one worker, answer cache off) on a free loopback port over the built
knowledge base, then, one request at a time as one user would:
- GET /codes/{code} for N different CPT/HCPCS codes (each page rendered once: no page cache hit),
  with and without a locality cookie; prints the server time (its Server-Timing header) and the
  round trip, p50 and p95, and the bytes of the 20702 page with its CSS and JavaScript;
- GET /api/autocomplete for every prefix (two characters and up) of the text queries in
  bench/search_queries.tsv, as the page's script sends them; prints the round trip p50 and p95;
- a logged-in member's code pages with quotas on and with quotas off (two servers over one fresh SQLite
  application database, requests alternating between them, each page new to the member so that every one is
  counted); prints the round trip p50 and p95 of both, the difference at p95, and the accounts work's own
  time (its Server-Timing entry ``accounts``). Skip with --no-accounts.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx

import medcode

HERE = Path(__file__).parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def timing(header: str, name: str) -> float:
    """One metric's duration from a Server-Timing header (``app;dur=1.20, accounts;dur=0.31``)."""
    for part in header.split(","):
        metric, _, dur = part.strip().partition(";dur=")
        if metric == name:
            return float(dur)
    raise KeyError(name)


def start(**extra: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCODE_CACHE_MB="0", **extra)
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
        server.append(timing(r.headers["server-timing"], "app"))
    what = "with a locality" if cookies else "national"
    print(
        f"code page ({what}, {len(codes)} codes): server p50 {statistics.median(server):.1f} ms, "
        f"p95 {pct(server, 95):.1f} ms; round trip p50 {statistics.median(trip):.1f} ms, p95 {pct(trip, 95):.1f} ms"
    )


def member_pages(codes: list[str]) -> None:
    """A logged-in member's code pages, quotas on against quotas off (see the module's docstring)."""
    from medcode.app import db

    folder = tempfile.mkdtemp(prefix="medcode-webbench-")
    url = f"sqlite:///{folder}/app.db"
    db.upgrade(url)
    db.dispose_all()
    common = dict(MEDCODE_DATABASE_URL=url, MEDCODE_VERIFY_EMAIL="off", MEDCODE_MEMBER_PAGES="1000000")
    servers = {q: start(MEDCODE_QUOTAS=q, **common) for q in ("off", "on")}
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench password"
    try:
        clients = {q: httpx.Client(base_url=base, timeout=30) for q, (_, base) in servers.items()}
        assert clients["on"].post("/api/auth/register", json={"email": email, "password": password}).status_code == 201
        for c in clients.values():  # one account, a session on each server
            c.post("/api/auth/login", json={"email": email, "password": password}).raise_for_status()
        trips: dict[str, list[float]] = {"off": [], "on": []}
        spent: list[float] = []
        for c in codes[:20]:
            for client in clients.values():
                client.get(f"/codes/{c}")  # warm-up, not measured
        for code in codes[20:]:
            for q, client in clients.items():
                t = time.perf_counter()
                r = client.get(f"/codes/{code}")
                trips[q].append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                assert email in r.text  # the header names the member
                if q == "on":
                    spent.append(timing(r.headers["server-timing"], "accounts"))
        used = clients["on"].get("/api/account").json()["quota"]["used"]
        n = len(trips["on"])
        for q in ("off", "on"):
            print(
                f"member's code pages, quotas {q} ({n} pages): round trip p50 {statistics.median(trips[q]):.1f} ms, "
                f"p95 {pct(trips[q], 95):.1f} ms"
            )
        print(
            f"quotas on cost a member's code page {pct(trips['on'], 95) - pct(trips['off'], 95):+.2f} ms at p95 "
            f"(accounts work p50 {statistics.median(spent):.2f} ms, p95 {pct(spent, 95):.2f} ms; {used} pages counted)"
        )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)


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
    if "--no-accounts" not in sys.argv:
        member_pages(codes[:n])


if __name__ == "__main__":
    main()
