#!/usr/bin/env bash
# Acknowledgements (POST /v1/alerts/{id}/ack) under wrk against a release build on SQLite,
# each request as one of RESIDENTS different recipients, beside GET /healthz on the same
# server in the same run (the framework's own cost per request).
# Goal (issue 7): >= 2,000 acknowledgements per second.
# Env: RESIDENTS (default 1000), DURATION (default 10s), CONNECTIONS (default 32), PORT.
set -euo pipefail
RESIDENTS="${RESIDENTS:-1000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18185}"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
export DATABASE_URL="sqlite://$work/data/safecode.db" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
$bin dev gen-residents --count "$RESIDENTS" --seed 4 --out "$work/residents.csv"
official=$($bin users create --role official --name "ack bench" 2>/dev/null)
SAFECODE_BIND="127.0.0.1:$PORT" SAFECODE_MAX_DB_CONNECTIONS=16 $bin serve 2>"$work/server.log" &
server=$!
wait_http "http://127.0.0.1:$PORT/healthz"
api() { curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $official" "$@"; }
zone=$(api -X POST "http://127.0.0.1:$PORT/v1/zones" -d '{"type":"Feature","properties":{"name":"all"},
  "geometry":{"type":"Polygon","coordinates":[[[120.0,30.0],[120.7,30.0],[120.7,30.5],[120.0,30.5],[120.0,30.0]]]}}' |
  sed -E 's/.*"id":"([^"]+)".*/\1/')
export SC_TOKENS_FILE="$work/tokens.txt"
: >"$SC_TOKENS_FILE"
tail -n +2 "$work/residents.csv" | while IFS=, read -r name _type id phone address lat lon year _needs; do
  body=$(printf '{"name":"%s","id_number":"%s","phone":"%s","address":"%s","location":{"lat":%s,"lon":%s},"birth_year":%s}' \
    "$name" "$id" "$phone" "$address" "$lat" "$lon" "${year:-null}")
  access=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/residents" -H 'Content-Type: application/json' -d "$body" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  printf '%s\n' "$access" >>"$SC_TOKENS_FILE"
done
alert=$(api -X POST "http://127.0.0.1:$PORT/v1/alerts" -d "{\"zones\":[\"$zone\"],\"headline\":\"Levee breach\",
  \"description\":\"Water rising.\",\"instruction\":\"Leave now.\",\"event\":\"Flood\",\"response_type\":\"Evacuate\",
  \"urgency\":\"Immediate\",\"severity\":\"Extreme\",\"certainty\":\"Observed\"}")
recipients=$(printf '%s' "$alert" | sed -E 's/.*"recipients":([0-9]+).*/\1/')
export SC_ALERT=$(printf '%s' "$alert" | sed -E 's/.*"id":"([^"]+)".*/\1/')

run -d2s -s benches/ack.lua "http://127.0.0.1:$PORT/" >/dev/null
run "http://127.0.0.1:$PORT/healthz" >"$work/healthz.txt"
run -s benches/ack.lua "http://127.0.0.1:$PORT/" >"$work/ack.txt"
echo "Acknowledgements on SQLite, $recipients recipients, wrk -t2 -c$CONNECTIONS -d$DURATION"
printf "  GET /healthz             : %8.0f req/s   p99 %s\n" "$(rps "$work/healthz.txt")" "$(p99 "$work/healthz.txt")"
printf "  POST /v1/alerts/{id}/ack : %8.0f req/s   p99 %s   non-2xx %s   (goal >= 2,000/s)\n" \
  "$(rps "$work/ack.txt")" "$(p99 "$work/ack.txt")" "$(awk '/^non-2xx/ {print $2}' "$work/ack.txt")"
awk -v a="$(rps "$work/ack.txt")" -v h="$(rps "$work/healthz.txt")" 'BEGIN { printf "  ack / healthz: %.3f x\n", a/h }'
