#!/usr/bin/env bash
# POST /v1/residents under wrk against a release build, beside GET /healthz on the same
# server in the same run (the baseline: the framework's own per-request cost).
#   benches/register_wrk.sh            # SQLite (the embedded default)
#   BENCH_DB=postgres benches/register_wrk.sh
# Env: DURATION (default 10s), CONNECTIONS (default 32), PORT (default 18181).
set -euo pipefail
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18181}"

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

bench_database sqlite
SAFECODE_BIND="127.0.0.1:$PORT" DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" \
  SAFECODE_MAX_DB_CONNECTIONS=16 RUST_LOG=warn SAFECODE_RATE_LIMITS=off $bin serve 2>"$work/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  finish_bench
}
trap cleanup EXIT
wait_http "http://127.0.0.1:$PORT/healthz"
url() { echo "http://127.0.0.1:$PORT$1"; }

run -d2s "$(url /healthz)" >/dev/null   # warm-up
run "$(url /healthz)" >"$work/hello.txt"
run -s benches/register.lua "$(url /v1/residents)" >"$work/register.txt"

hello_rps=$(rps "$work/hello.txt"); reg_rps=$(rps "$work/register.txt")
hello_p99=$(to_ms "$(p99 "$work/hello.txt")"); reg_p99=$(to_ms "$(p99 "$work/register.txt")")
errors=$(non2xx "$work/register.txt")
echo "POST /v1/residents on ${BENCH_DB:-sqlite}, wrk -t2 -c$CONNECTIONS -d$DURATION"
printf "  GET /healthz (baseline) : %10.0f req/s   p99 %8.2f ms\n" "$hello_rps" "$hello_p99"
printf "  POST /v1/residents      : %10.0f req/s   p99 %8.2f ms   non-2xx %s\n" "$reg_rps" "$reg_p99" "$errors"
awk -v a="$reg_rps" -v b="$hello_rps" -v c="$reg_p99" -v d="$hello_p99" \
  'BEGIN { printf "  ratio register/baseline: %.3f x req/s, %.1f x p99\n", a/b, c/d }'
