#!/usr/bin/env bash
# POST /v1/verify under wrk against a release build on SQLite with 100,000 residents, beside two
# baselines measured in the same run on a bare actix-web server (benches/baseline_server.rs):
# a hello world, and a handler that only checks one SC1 signature. /healthz of safecode itself
# (a hello world behind safecode's middleware) is shown too.
# Goals: verify >= 0.8 x the signature-only handler's req/s (issue 22), p99 <= 2 x hello's p99.
# Env: RESIDENTS (default 100000), DURATION (default 10s), CONNECTIONS (default 32), PORT,
# BENCH_DB=postgres for a fresh PostgreSQL database instead of SQLite, SAFECODE_SCAN_BATCH=off
# to check every scan alone (the path before batching, for a before/after in one run: AB=1 runs both).
# On PostgreSQL the server keeps scanned residents' facts (service::fresh_facts); a third run
# with SAFECODE_FACTS_CACHE=off reads every scan's facts from the database, as before.
set -euo pipefail
RESIDENTS="${RESIDENTS:-100000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18182}"
BASELINE_PORT="${BASELINE_PORT:-18190}"
TOKENS="${TOKENS:-1000}"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

cargo bench --quiet --bench baseline_server --no-run 2>/dev/null

bench_database sqlite
export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
# The imported residents are rows 0..RESIDENTS-1; the ones registered below to get codes are
# the rows after them, so their ID numbers differ.
$bin dev gen-residents --count "$((RESIDENTS + TOKENS))" --out "$work/residents.csv"
head -n "$((RESIDENTS + 1))" "$work/residents.csv" >"$work/import.csv"
tail -n "$TOKENS" "$work/residents.csv" >"$work/register.csv"
$bin import residents "$work/import.csv" >/dev/null 2>&1
SC_STAFF=$($bin users create --role staff --name "verify bench" 2>/dev/null)
export SC_STAFF
serve() { SAFECODE_SCAN_BATCH="$1" SAFECODE_FACTS_CACHE="${2:-200000}" SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>>"$work/server.log" & server=$!; }
serve on
BASELINE_PORT=$BASELINE_PORT cargo bench --quiet --bench baseline_server >/dev/null 2>&1 &
baseline=$!
cleanup() {
  kill $server 2>/dev/null || true
  pkill -P $baseline 2>/dev/null || true
  kill $baseline 2>/dev/null || true
  wait 2>/dev/null || true
  finish_bench
}
trap cleanup EXIT
wait_http "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$BASELINE_PORT/hello"

# Real codes of TOKENS different residents, registered as a resident would.
export SC_TOKENS_FILE="$work/tokens.txt"
: >"$SC_TOKENS_FILE"
while IFS=, read -r name _type id phone address lat lon year _needs; do
  body=$(printf '{"name":"%s","id_number":"%s","phone":"%s","address":"%s","location":{"lat":%s,"lon":%s},"birth_year":%s}' \
    "$name" "$id" "$phone" "$address" "$lat" "$lon" "${year:-null}")
  access=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/residents" -H 'Content-Type: application/json' -d "$body" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  code=$(curl -fs "http://127.0.0.1:$PORT/v1/residents/me/code" -H "Authorization: Bearer $access")
  printf '%s\n' "$code" | sed -E 's/.*"token":"([^"]+)".*/\1/' >>"$SC_TOKENS_FILE"
done <"$work/register.csv"
first=$(head -n1 "$SC_TOKENS_FILE")
curl -fs -X POST "http://127.0.0.1:$PORT/v1/verify" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $SC_STAFF" -d "{\"token\":\"$first\"}" | grep -q '"valid":true'
SC_BASE_TOKEN=$(curl -fs "http://127.0.0.1:$BASELINE_PORT/token")
export SC_BASE_TOKEN


run -d2s "http://127.0.0.1:$BASELINE_PORT/hello" >/dev/null
run -d2s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
run "http://127.0.0.1:$BASELINE_PORT/hello" >"$work/hello.txt"
run -s benches/signature.lua "http://127.0.0.1:$BASELINE_PORT/signature" >"$work/signature.txt"
run "http://127.0.0.1:$PORT/healthz" >"$work/healthz.txt"
# CPU the server (and PostgreSQL) spend per verify, read around the measured run.
s0=$(cpu_ticks $server) p0=$(cpu_ticks $(pg_pids))
run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/verify.txt"
s1=$(cpu_ticks $server) p1=$(cpu_ticks $(pg_pids))
kept=$(curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^fresh_facts_(hits|misses|bypassed)_total ' | tr '\n' ' ' || true)
# The same server with every scan checked alone, as before batching.
kill $server && wait $server 2>/dev/null || true
serve off
wait_http "http://127.0.0.1:$PORT/healthz"
run -d2s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/alone.txt"
if [ "$BENCH_DB" = postgres ]; then
  kill $server && wait $server 2>/dev/null || true
  serve on off
  wait_http "http://127.0.0.1:$PORT/healthz"
  run -d2s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
  u0=$(cpu_ticks $server) q0=$(cpu_ticks $(pg_pids))
  run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/unkept.txt"
  u1=$(cpu_ticks $server) q1=$(cpu_ticks $(pg_pids))
fi

line() { printf "  %-38s: %10.0f req/s   p99 %8.2f ms\n" "$1" "$(rps "$2")" "$(to_ms "$(p99 "$2")")"; }
echo "POST /v1/verify on $BENCH_DB with $RESIDENTS residents and $TOKENS distinct codes, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
line "hello world (bare actix-web)" "$work/hello.txt"
line "signature only (bare actix-web)" "$work/signature.txt"
line "GET /healthz (safecode)" "$work/healthz.txt"
line "POST /v1/verify (safecode, batched)" "$work/verify.txt"
line "POST /v1/verify (safecode, each alone)" "$work/alone.txt"
if [ "$BENCH_DB" = postgres ]; then
  line "POST /v1/verify (batched, no kept facts)" "$work/unkept.txt"
  echo "  kept facts during the batched run: ${kept:-none}"
  echo "  CPU per verify with no kept facts: server $(us_per_request "$u0" "$u1" "$(reqs "$work/unkept.txt")") us, PostgreSQL $(us_per_request "$q0" "$q1" "$(reqs "$work/unkept.txt")") us"
  awk -v v="$(rps "$work/unkept.txt")" -v s="$(rps "$work/signature.txt")" -v vp="$(to_ms "$(p99 "$work/unkept.txt")")" -v hp="$(to_ms "$(p99 "$work/hello.txt")")" \
    'BEGIN { printf "  no kept facts / signature-only: %.3f x req/s, p99 / hello p99: %.2f x\n", v/s, vp/hp }'
fi
echo "  CPU per verify (batched): server $(us_per_request "$s0" "$s1" "$(reqs "$work/verify.txt")") us$([ "$BENCH_DB" = postgres ] && echo ", PostgreSQL $(us_per_request "$p0" "$p1" "$(reqs "$work/verify.txt")") us")"
echo "  POST /v1/verify non-2xx: $(non2xx "$work/verify.txt") batched, $(non2xx "$work/alone.txt") alone"
awk -v v="$(rps "$work/verify.txt")" -v a="$(rps "$work/alone.txt")" -v h="$(rps "$work/hello.txt")" -v s="$(rps "$work/signature.txt")" \
  -v vp="$(to_ms "$(p99 "$work/verify.txt")")" -v ap="$(to_ms "$(p99 "$work/alone.txt")")" -v hp="$(to_ms "$(p99 "$work/hello.txt")")" \
  'BEGIN {
     printf "  verify / signature-only : %.3f x req/s (goal >= 0.8); each alone: %.3f x\n", v/s, a/s
     printf "  verify p99 / hello p99  : %.2f x (goal <= 2); each alone: %.2f x\n", vp/hp, ap/hp
     printf "  verify / hello          : %.3f x req/s; signature-only / hello: %.3f x\n", v/h, s/h
     printf "  batched / alone         : %.2f x req/s\n", v/a
   }'
