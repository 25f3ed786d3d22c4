#!/usr/bin/env bash
# Where a verify's time goes (issue 22, item 3): a flat perf profile of the release server while
# wrk sends POST /v1/verify with real codes of 100 residents among RESIDENTS (default 100,000).
# DB_URL=postgres://… profiles PostgreSQL instead of SQLite. Needs perf (Debian: linux-perf).
set -euo pipefail
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
RESIDENTS="${RESIDENTS:-100000}"; TOKENS=100; PORT=18185
work=$(mktemp -d)
export DATABASE_URL="${DB_URL:-sqlite://$work/data/safecode.db}" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
$bin dev gen-residents --count "$((RESIDENTS + TOKENS))" --out "$work/residents.csv"
head -n "$((RESIDENTS + 1))" "$work/residents.csv" >"$work/import.csv"
tail -n "$TOKENS" "$work/residents.csv" >"$work/register.csv"
$bin import residents "$work/import.csv" >/dev/null 2>&1
SC_STAFF=$($bin users create --role staff --name "verify bench" 2>/dev/null); export SC_STAFF
SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null; rm -rf $work' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
export SC_TOKENS_FILE="$work/tokens.txt"; : >"$SC_TOKENS_FILE"
while IFS=, read -r name _type id phone address lat lon year _needs; do
  body=$(printf '{"name":"%s","id_number":"%s","phone":"%s","address":"%s","location":{"lat":%s,"lon":%s},"birth_year":%s}' "$name" "$id" "$phone" "$address" "$lat" "$lon" "${year:-null}")
  access=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/residents" -H 'Content-Type: application/json' -d "$body" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -fs "http://127.0.0.1:$PORT/v1/residents/me/code" -H "Authorization: Bearer $access" | sed -E 's/.*"token":"([^"]+)".*/\1/' >>"$SC_TOKENS_FILE"
  echo >>"$SC_TOKENS_FILE"
done <"$work/register.csv"
wrk -t1 -c32 -d3s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
wrk -t1 -c32 -d20s --latency -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/wrk.txt" &
w=$!
sleep 3
perf record -F 499 -p $server -o "$work/perf.data" -- sleep 12 2>/dev/null >/dev/null
wait $w
grep -E "Requests/sec|99%|non-2xx" "$work/wrk.txt"
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -8
echo ---
perf report -i "$work/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -40
