#!/usr/bin/env bash
# Soak: a 10-minute mixed load (verify 70 %, code fetch 20 %, admissions 5 %, acknowledgements
# 5 %; benches/soak.lua) against a release build on PostgreSQL, in one-minute segments so each
# minute has its own p99; the server's resident memory is read after each. Goals (issue 9): no
# errors, last minute's p99 within 1.5 x the first's, memory after warm-up (minute 2) growing
# less than 10 %.
#   benches/soak.sh            # MINUTES=10 CONNECTIONS=16 BENCH_DB=postgres (or sqlite)
set -euo pipefail
MINUTES="${MINUTES:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-18191}"
CODES="${CODES:-200000}"
RESIDENTS="${RESIDENTS:-1000}"
THREADS=2

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

bench_database postgres
export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  finish_bench
}
trap cleanup EXIT

$bin dev gen-residents --count "$CODES" --out "$work/residents.csv"
$bin import residents "$work/residents.csv" >/dev/null 2>&1
$bin dev issue-codes --count "$CODES" --out "$work/codes.txt" 2>/dev/null
official=$($bin users create --role official --name "soak official" 2>/dev/null)
SAFECODE_BIND="127.0.0.1:$PORT" SAFECODE_MAX_DB_CONNECTIONS=16 $bin serve 2>"$work/server.log" &
server=$!
base="http://127.0.0.1:$PORT"
wait_http "$base/healthz"
api() { curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $official" "$@"; }
# Three shelters at the largest capacity: room for every admission of the run.
shelters=()
for s in 1 2 3; do
  shelters+=("$(api -X POST "$base/v1/shelters" \
    -d "{\"name\":\"Soak gym $s\",\"location\":{\"lat\":30.2,\"lon\":120.3},\"capacity\":100000}" |
    sed -E 's/.*"id":"([^"]+)".*/\1/')")
done
shelter=$(IFS=,; echo "${shelters[*]}")
staff=$($bin users create --role staff --name "soak desk" --shelter "${shelters[0]}" \
  --shelter "${shelters[1]}" --shelter "${shelters[2]}" 2>/dev/null)
zone=$(api -X POST "$base/v1/zones" -d '{"type":"Feature","properties":{"name":"all"},
  "geometry":{"type":"Polygon","coordinates":[[[120.0,30.0],[120.7,30.0],[120.7,30.5],[120.0,30.5],[120.0,30.0]]]}}' |
  sed -E 's/.*"id":"([^"]+)".*/\1/')
# Residents with their own tokens (code fetch, acknowledgements), registered like anyone.
: >"$work/tokens.txt"
python3 - "$RESIDENTS" >"$work/register.txt" <<'PY'
import random, sys
w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
for i in range(int(sys.argv[1])):
    body = "330109" + "19%02d" % random.randint(40, 99) + "0%d" % random.randint(1, 9) + "%02d" % random.randint(10, 28) + "%03d" % (i % 1000)
    n = body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]
    letters = "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))
    print('{"name":"Soak %s","id_number":"%s","location":{"lat":30.2,"lon":120.3}}' % (letters, n))
PY
while read -r body; do
  token=$(curl -fs -X POST "$base/v1/residents" -H 'Content-Type: application/json' -d "$body" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/') || continue
  printf '%s\n' "$token" >>"$work/tokens.txt"
done <"$work/register.txt"
alert=$(api -X POST "$base/v1/alerts" -d "{\"zones\":[\"$zone\"],\"headline\":\"Soak\",\"description\":\"Rising.\",
  \"instruction\":\"Leave.\",\"event\":\"Flood\",\"response_type\":\"Evacuate\",\"urgency\":\"Immediate\",
  \"severity\":\"Extreme\",\"certainty\":\"Observed\"}" | sed -E 's/.*"id":"([^"]+)".*/\1/')
export SC_CODES_FILE="$work/codes.txt" SC_RESIDENTS_FILE="$work/tokens.txt" SC_SHELTER="$shelter" \
  SC_STAFF="$staff" SC_ALERT="$alert" SC_THREADS=$THREADS

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
[ -s "$work/tokens.txt" ] || { echo "no resident could register"; exit 1; }
echo "Soak on ${BENCH_DB:-postgres}: $MINUTES x 1 min, wrk -t$THREADS -c$CONNECTIONS, $CODES codes, $(wc -l <"$work/tokens.txt") resident tokens"
printf "  %-6s %10s %10s %8s %8s %10s\n" minute req/s "p99 ms" non-2xx errors "RSS KiB"
errors=0
for m in $(seq 1 "$MINUTES"); do
  SC_OFFSET=$(( (m - 1) * CODES / MINUTES )) wrk -t$THREADS -c"$CONNECTIONS" -d60s --latency -s benches/soak.lua "$base/" >"$work/m$m.txt"
  non=$(non2xx "$work/m$m.txt"); non=${non:-0}
  sock=$(awk '/^socket-errors/ {print $2}' "$work/m$m.txt")
  errors=$((errors + non + sock))
  printf "  %-6s %10.0f %10s %8s %8s %10s\n" "$m" "$(rps "$work/m$m.txt")" \
    "$(to_ms "$(p99 "$work/m$m.txt")")" "$non" "$sock" "$(rss)" | tee -a "$work/table.txt"
done
first=$(awk 'NR==1 {print $3}' "$work/table.txt"); last=$(awk -v n="$MINUTES" 'NR==n {print $3}' "$work/table.txt")
warm=$(awk 'NR==2 {print $6}' "$work/table.txt"); end=$(awk -v n="$MINUTES" 'NR==n {print $6}' "$work/table.txt")
awk -v f="$first" -v l="$last" -v w="$warm" -v e="$end" -v err="$errors" 'BEGIN {
  printf "  p99 last/first minute: %.2f x (goal <= 1.5)\n", l/f;
  printf "  memory end/after warm-up: %.3f x (goal <= 1.10)\n", e/w;
  printf "  errors: %d (goal 0)\n", err }'
grep -q panicked "$work/server.log" && { echo "server panicked"; exit 1; }
[ "$errors" -eq 0 ]
