"""Keyed API throughput: GET /api/codes/20702 with `Authorization: Bearer KEY` on two server workers, quotas on
(every request looks the key up and counts it in the application database), against the open API with quotas
off as the baseline.

    .venv/bin/python bench/api_key_bench.py [--seconds 20] [--connections 32] [--database-url URL]

Uses wrk (Debian's `wrk`) as the load client when installed, else Python clients in other processes (slower:
they take CPU from the server on a small machine, so the figure is a floor). The application database is a
fresh SQLite file, or a PostgreSQL database named by --database-url (it is migrated; a bench user is added).
The key's plan is pro with MEDCODE_RATE_PRO raised so that no request is refused: the figure is the cost of
checking and counting, not of refusing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from medcode.app import accounts, db, keys

PATH = "/api/codes/20702"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(url: str, quotas: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        MEDCODE_DATABASE_URL=url,
        MEDCODE_QUOTAS=quotas,
        MEDCODE_RATE_PRO=str(10**9),
        MEDCODE_EMBED="off",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def _python_client(args: tuple[str, dict[str, str], float]) -> tuple[int, int]:
    base, headers, seconds = args
    ok = bad = 0
    end = time.time() + seconds
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        while time.time() < end:
            if c.get(PATH).status_code == 200:
                ok += 1
            else:
                bad += 1
    return ok, bad


def load(base: str, headers: dict[str, str], seconds: int, connections: int) -> tuple[float, str]:
    """(requests a second, a line of detail)."""
    if shutil.which("wrk"):
        flags = [f"-H{k}: {v}" for k, v in headers.items()]
        subprocess.run(["wrk", "-t2", "-c8", "-d3s", *flags, base + PATH], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *flags, base + PATH],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        detail = f"wrk {connections} connections: p50 {p50}, p99 {p99}, non-2xx {non2xx.group(1) if non2xx else 0}"
        return rate, detail
    procs = min(connections, 8)
    with multiprocessing.Pool(procs) as pool:
        results = pool.map(_python_client, [(base, headers, float(seconds))] * procs)
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    return ok / seconds, f"{procs} Python client processes (no wrk): {bad} answers not 200"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="medcode-keybench-"))
    url = db.database_url(type("C", (), {"database_url": args.database_url, "home": folder})())
    db.upgrade(url)
    eng = db.engine(url)
    user = accounts.create_user(eng, f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex, "member", "pro")
    _, key = keys.create_key(eng, user, "bench")
    db.dispose_all()
    print(f"application database: {db.safe_url(url)}")
    for quotas, headers, what in (
        ("off", {}, "quotas off, no key (baseline)"),
        ("on", {"Authorization": f"Bearer {key}"}, "quotas on, with a key (looked up and counted)"),
    ):
        proc, base = start(url, quotas)
        try:
            if headers:
                r = httpx.get(base + PATH, headers=headers)
                assert r.status_code == 200 and "x-ratelimit-limit" in r.headers, r.status_code
            rate, detail = load(base, headers, args.seconds, args.connections)
            print(f"{what}: {rate:,.0f} requests/s on 2 workers ({detail})")
        finally:
            proc.terminate()
            proc.wait(15)
    eng = db.engine(url)
    counted = sum(k.today for k in keys.list_keys(eng, user))
    print(f"requests counted for the key today: {counted:,}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
