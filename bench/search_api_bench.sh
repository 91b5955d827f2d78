#!/usr/bin/env bash
# GET /api/autocomplete over loopback with wrk, 2 server workers, 16 connections. Each request
# is a different half-typed query (bench/autocomplete.lua; the &n= parameter makes almost every
# URL new, so the answer cache rarely helps); run once with the cache and once without.
#   bash bench/search_api_bench.sh      (needs: wrk from Debian; a built knowledge base)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PORT=${PORT:-8766}
for CACHE in 64 0; do
  MEDCODE_CACHE_MB=$CACHE .venv/bin/medcode serve --port "$PORT" --workers 2 2>/dev/null &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  wrk -t1 -c8 -d3s -s bench/autocomplete.lua "http://127.0.0.1:$PORT" >/dev/null   # warm-up
  echo "== autocomplete, answer cache ${CACHE} MB, 16 connections"
  wrk -t2 -c16 -d20s --latency -s bench/autocomplete.lua "http://127.0.0.1:$PORT" \
    | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors"
  kill $SERVER; wait $SERVER 2>/dev/null || true
done
