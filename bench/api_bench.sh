#!/usr/bin/env bash
# GET /api/codes/20702 over loopback with wrk, 2 server workers.
#   bash bench/api_bench.sh          (needs: apt-get install wrk; a built knowledge base)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PORT=${PORT:-8765}
.venv/bin/medcode serve --port "$PORT" --workers 2 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
wrk -t1 -c16 -d5s "http://127.0.0.1:$PORT/api/codes/20702" >/dev/null   # warm-up
wrk -t2 -c32 -d20s --latency "http://127.0.0.1:$PORT/api/codes/20702"
