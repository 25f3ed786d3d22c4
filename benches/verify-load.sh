#!/usr/bin/env bash
# POST /v1/verify under wrk against a release build on SQLite with 100,000 residents, beside
# GET /healthz (a hello-world handler) on the same server in the same run.
# Goal: verify >= 0.35 x the baseline's req/s, p99 <= 2 x the baseline's p99.
# Env: RESIDENTS (default 100000), DURATION (default 10s), CONNECTIONS (default 32), PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
RESIDENTS="${RESIDENTS:-100000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18182}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
bin=./target/release/safecode

work=$(mktemp -d)
export DATABASE_URL="sqlite://$work/data/safecode.db" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn
$bin dev gen-residents --count "$RESIDENTS" --out "$work/residents.csv"
$bin import residents "$work/residents.csv" >/dev/null 2>&1
SC_STAFF=$($bin users create --role staff --name "verify bench" 2>/dev/null)
export SC_STAFF
SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

access=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/residents" -H 'Content-Type: application/json' \
  -d '{"name":"压测居民","id_number":"11010519491231002X","location":{"lat":30.2,"lon":120.3}}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')
SC_TOKEN=$(curl -fs "http://127.0.0.1:$PORT/v1/residents/me/code" -H "Authorization: Bearer $access" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
export SC_TOKEN
curl -fs -X POST "http://127.0.0.1:$PORT/v1/verify" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $SC_STAFF" -d "{\"token\":\"$SC_TOKEN\"}" | grep -q '"valid":true'

run() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@"; }
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else printf "%.3f", v*1000 }'; }

run -d2s "http://127.0.0.1:$PORT/healthz" >/dev/null
run "http://127.0.0.1:$PORT/healthz" >"$work/hello.txt"
run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/verify.txt"

h_rps=$(rps "$work/hello.txt"); v_rps=$(rps "$work/verify.txt")
h_p99=$(to_ms "$(p99 "$work/hello.txt")"); v_p99=$(to_ms "$(p99 "$work/verify.txt")")
errors=$(awk '/^non-2xx/ {print $2}' "$work/verify.txt")
echo "POST /v1/verify on SQLite with $RESIDENTS residents, wrk -t2 -c$CONNECTIONS -d$DURATION"
printf "  GET /healthz (baseline) : %10.0f req/s   p99 %8.2f ms\n" "$h_rps" "$h_p99"
printf "  POST /v1/verify         : %10.0f req/s   p99 %8.2f ms   non-2xx %s\n" "$v_rps" "$v_p99" "$errors"
awk -v a="$v_rps" -v b="$h_rps" -v c="$v_p99" -v d="$h_p99" \
  'BEGIN { printf "  ratio verify/baseline  : %.3f x req/s (goal >= 0.35), %.1f x p99 (goal <= 2)\n", a/b, c/d }'
