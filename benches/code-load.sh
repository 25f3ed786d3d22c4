#!/usr/bin/env bash
# The surge when an alert goes out (issue 22, item 4): every resident of a zone opens their
# code. Measured with wrk against a release build on SQLite, beside a bare actix-web hello world
# (benches/baseline_server.rs) in the same run: GET /v1/residents/me/code as JSON (one signature,
# what a view of the resident page costs now: the page draws the QR itself), as SVG and as PNG
# (the server drawing too; the page used to fetch JSON and SVG, two signatures, per view), and
# GET /v1/residents/me (the colour and its reasons, the view's other request).
# Env: RESIDENTS (imported, default 100000), ACCESS (distinct residents asking, default 200),
# DURATION (default 10s), CONNECTIONS (default 32), PORT.
set -euo pipefail
RESIDENTS="${RESIDENTS:-100000}"
ACCESS="${ACCESS:-200}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18183}"
BASELINE_PORT="${BASELINE_PORT:-18191}"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

cargo bench --quiet --bench baseline_server --no-run 2>/dev/null

work=$(mktemp -d)
export DATABASE_URL="sqlite://$work/data/safecode.db" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
$bin dev gen-residents --count "$((RESIDENTS + ACCESS))" --out "$work/residents.csv"
head -n "$((RESIDENTS + 1))" "$work/residents.csv" >"$work/import.csv"
tail -n "$ACCESS" "$work/residents.csv" >"$work/register.csv"
$bin import residents "$work/import.csv" >/dev/null 2>&1
SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>"$work/server.log" &
server=$!
BASELINE_PORT=$BASELINE_PORT cargo bench --quiet --bench baseline_server >/dev/null 2>&1 &
baseline=$!
cleanup() {
  kill $server 2>/dev/null || true
  pkill -P $baseline 2>/dev/null || true
  kill $baseline 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_http "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$BASELINE_PORT/hello"

export SC_ACCESS_FILE="$work/access.txt"
: >"$SC_ACCESS_FILE"
while IFS=, read -r name _type id phone address lat lon year _needs; do
  body=$(printf '{"name":"%s","id_number":"%s","phone":"%s","address":"%s","location":{"lat":%s,"lon":%s},"birth_year":%s}' \
    "$name" "$id" "$phone" "$address" "$lat" "$lon" "${year:-null}")
  curl -fs -X POST "http://127.0.0.1:$PORT/v1/residents" -H 'Content-Type: application/json' -d "$body" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/' >>"$SC_ACCESS_FILE"
  echo >>"$SC_ACCESS_FILE"
done <"$work/register.csv"

base="http://127.0.0.1:$PORT/v1/residents/me"
# Every token must work, or the figures would be of 401s.
while read -r access; do
  curl -fs "$base" -H "Authorization: Bearer $access" >/dev/null || { echo "a resident's token does not work: $access" >&2; exit 1; }
done <"$SC_ACCESS_FILE"
run -d2s "http://127.0.0.1:$BASELINE_PORT/hello" >/dev/null
run -d2s -s benches/code.lua "$base/code" >/dev/null
run "http://127.0.0.1:$BASELINE_PORT/hello" >"$work/hello.txt"
run "http://127.0.0.1:$PORT/healthz" >"$work/healthz.txt"
run -s benches/code.lua "$base/code" >"$work/json.txt"
run -s benches/code.lua "$base/code?format=svg" >"$work/svg.txt"
run -s benches/code.lua "$base/code?format=png" >"$work/png.txt"
run -s benches/code.lua "$base" >"$work/me.txt"

line() { printf "  %-38s: %9.0f req/s   p99 %8.2f ms   non-2xx %s\n" "$1" "$(rps "$2")" "$(to_ms "$(p99 "$2")")" "$(non2xx "$2")"; }
echo "The surge: $ACCESS residents (of $RESIDENTS) asking for their code, SQLite, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
line "hello world (bare actix-web)" "$work/hello.txt"
line "GET /healthz (safecode)" "$work/healthz.txt"
line "GET /v1/residents/me/code (JSON)" "$work/json.txt"
line "GET /v1/residents/me/code?format=svg" "$work/svg.txt"
line "GET /v1/residents/me/code?format=png" "$work/png.txt"
line "GET /v1/residents/me" "$work/me.txt"
awk -v h="$(rps "$work/hello.txt")" -v j="$(rps "$work/json.txt")" -v s="$(rps "$work/svg.txt")" \
  -v m="$(rps "$work/me.txt")" \
  'BEGIN {
     printf "  code JSON / hello: %.3f x   code SVG / hello: %.3f x   me / hello: %.3f x\n", j/h, s/h, m/h
     before = 1 / (1/j + 1/s + 1/m); now = 1 / (1/j + 1/m)
     printf "  page views/s, server side: before (JSON + SVG + me) %.0f, now (JSON + me) %.0f: %.2f x\n", before, now, now/before
     printf "  1,000,000 views in 10 minutes = %.0f views/s: %.1f servers like this one at the average\n", 1e6/600, (1e6/600)/now
   }'
