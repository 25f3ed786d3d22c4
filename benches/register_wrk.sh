#!/usr/bin/env bash
# POST /v1/residents under wrk against a release build, beside GET /healthz on the same
# server in the same run (the baseline: the framework's own per-request cost).
#   benches/register_wrk.sh            # SQLite (the embedded default)
#   BENCH_DB=postgres benches/register_wrk.sh
# Env: DURATION (default 10s), CONNECTIONS (default 32), PORT (default 18181).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18181}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet

work=$(mktemp -d)
db_url="sqlite://$work/data/safecode.db"
if [ "${BENCH_DB:-sqlite}" = postgres ]; then
  scripts/start-postgres.sh
  name="safecode_bench_$$"
  psql postgres://postgres@127.0.0.1:5432/postgres -qc "CREATE DATABASE $name"
  db_url="postgres://postgres@127.0.0.1:5432/$name"
fi
SAFECODE_BIND="127.0.0.1:$PORT" DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" \
  SAFECODE_MAX_DB_CONNECTIONS=16 RUST_LOG=warn SAFECODE_RATE_LIMITS=off ./target/release/safecode serve 2>"$work/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

run() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "http://127.0.0.1:$PORT${path}"; }
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else printf "%.3f", v*1000 }'; }

path=/healthz run -d2s >/dev/null   # warm-up
path=/healthz run >"$work/hello.txt"
path=/v1/residents run -s benches/register.lua >"$work/register.txt"

hello_rps=$(rps "$work/hello.txt"); reg_rps=$(rps "$work/register.txt")
hello_p99=$(to_ms "$(p99 "$work/hello.txt")"); reg_p99=$(to_ms "$(p99 "$work/register.txt")")
errors=$(awk '/^non-2xx/ {print $2}' "$work/register.txt")
echo "POST /v1/residents on ${BENCH_DB:-sqlite}, wrk -t2 -c$CONNECTIONS -d$DURATION"
printf "  GET /healthz (baseline) : %10.0f req/s   p99 %8.2f ms\n" "$hello_rps" "$hello_p99"
printf "  POST /v1/residents      : %10.0f req/s   p99 %8.2f ms   non-2xx %s\n" "$reg_rps" "$reg_p99" "$errors"
awk -v a="$reg_rps" -v b="$hello_rps" -v c="$reg_p99" -v d="$hello_p99" \
  'BEGIN { printf "  ratio register/baseline: %.3f x req/s, %.1f x p99\n", a/b, c/d }'
