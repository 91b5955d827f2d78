"""CasePilot as the user waits for it: ``POST /api/ask`` over real HTTP through ``medcode serve``, and
the whole ``medcode ask`` command (process start, knowledge base open, answer, print).

    MEDCODE_HOME=... python bench/ask_http_bench.py [--file bench/ask_dev.tsv] [--commands 5]

Prints the median, p95 and maximum time per answer over HTTP (every question of the file, each
asked once after a warm-up pass over the first 20), and the median wall time of the command.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ask_bench import DEFAULT_FILE, read_rows  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MEDCODE_HOME": home, "MEDCODE_EMBED": os.environ.get("MEDCODE_EMBED", "off")}
    cmd = [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", default=os.environ.get("MEDCODE_HOME"))
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--commands", type=int, default=5, help="runs of the whole `medcode ask` command")
    args = ap.parse_args()
    if not args.home:
        raise SystemExit("set MEDCODE_HOME or --home")
    questions = [q for row in read_rows(args.file) for q in row.question.split(" || ")]
    port = _free_port()
    server = _serve(args.home, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for q in questions[:20]:  # warm-up: the parser's tables, the guidelines index
                client.post("/api/ask", json={"question": q})
            times = []
            for q in questions:
                t0 = time.perf_counter()
                r = client.post("/api/ask", json={"question": q})
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    print(f"HTTP {r.status_code} for {q!r}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(30)
    print(
        f"POST /api/ask over HTTP, {len(times)} questions: median {statistics.median(times):.1f} ms, "
        f"p95 {_pct(times, 0.95):.1f} ms, max {max(times):.1f} ms"
    )
    walls = []
    env = {**os.environ, "MEDCODE_HOME": args.home}
    for q in questions[: args.commands]:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "medcode.cli", "ask", q], env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
    print(f"whole `medcode ask` command ({len(walls)} runs): median {statistics.median(walls):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
