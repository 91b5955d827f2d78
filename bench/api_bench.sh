#!/usr/bin/env bash
# GET /api/codes/20702 over loopback with wrk and 2 server workers, with the answer cache on
# (the default) and off (MEDCODE_CACHE_MB=0: every request runs get_code and encodes the JSON),
# at 16 and 32 connections.
#   bash bench/api_bench.sh          (needs: wrk from Debian; a built knowledge base)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PORT=${PORT:-8765}
URL="http://127.0.0.1:$PORT/api/codes/20702"
for CACHE in 64 0; do
  MEDCODE_CACHE_MB=$CACHE .venv/bin/medcode serve --port "$PORT" --workers 2 2>/dev/null &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  wrk -t1 -c16 -d5s "$URL" >/dev/null   # warm-up
  for CONNS in 16 32; do
    echo "== answer cache ${CACHE} MB, ${CONNS} connections"
    wrk -t2 -c"$CONNS" -d20s --latency "$URL" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors"
  done
  kill $SERVER; wait $SERVER 2>/dev/null || true
done
