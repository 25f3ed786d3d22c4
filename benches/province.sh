#!/usr/bin/env bash
# The province case on PostgreSQL (issue 22, items 1 and 3), against a release build:
#   1. RESIDENTS (default 10,000,000) over DISTRICTS (default 10) side-by-side districts,
#      generated, then imported through COPY with its progress bar and peak memory (the ratio
#      to a bare COPY is `IMPORT_BENCH_DB=postgres cargo bench --bench import`);
#   2. a zone drawn over district 0 (RESIDENTS / DISTRICTS members): the time POST /v1/zones
#      takes and the server's memory before and after (its peak, VmHWM);
#   3. a mandatory order over it: the time it takes, and the next verify of a resident there
#      shows red;
#   4. POST /v1/verify under wrk with TOKENS distinct codes, beside a bare actix-web hello world
#      and a signature-only handler in the same run (benches/baseline_server.rs);
#   5. status lists per district (item 2): the districts are drawn before the import
#      (`safecode import districts`), so each district's residents hold slots in its own list.
#      The order of step 3 rebuilds district 1's list only (the others' ETags do not move);
#      then an order over a strip of district 2 holding STRIP_PERCENT (5) % of its residents,
#      and the gzip bytes of a shelter's bundle carrying district 2's list (and of district 1,
#      ordered out entirely).
# Run it at RESIDENTS=100000 too: the p99 at ten million is compared with that run's.
# Env: RESIDENTS, DISTRICTS, TOKENS (1000), DURATION (10s), CONNECTIONS (32), PORT, KEEP=1 to
# leave the database (its URL is printed) for further runs.
set -euo pipefail
RESIDENTS="${RESIDENTS:-10000000}"
DISTRICTS="${DISTRICTS:-10}"
TOKENS="${TOKENS:-1000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18184}"
BASELINE_PORT="${BASELINE_PORT:-18192}"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
cargo bench --quiet --bench baseline_server --no-run 2>/dev/null

bench_database postgres
export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
server="" baseline=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  if [ -n "$baseline" ]; then
    pkill -P "$baseline" 2>/dev/null || true
    kill "$baseline" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $db_url (keys in $work/keys)"; else finish_bench; fi
}
trap cleanup EXIT
ms() { date +%s%3N; }

t0=$(ms)
$bin dev gen-residents --count "$RESIDENTS" --districts "$DISTRICTS" --out "$work/residents.csv" \
  --districts-out "$work/districts.json"
t1=$(ms)
$bin import districts "$work/districts.json" 2>"$work/districts.log"
$bin import residents "$work/residents.csv" >"$work/import.json" 2>"$work/import.log"
t2=$(ms)
rm -f "$work/residents.csv"

STRIP_PERCENT="${STRIP_PERCENT:-5}"
python3 - "$work/districts.json" "$work/zone.json" "$work/jurisdiction.json" "$work/strip.json" "$STRIP_PERCENT" <<'PY'
import json, sys
features = json.load(open(sys.argv[1]))["features"]
d = features[0]
json.dump({"type": "Feature", "properties": {"name": "District 0 lowlands"}, "geometry": d["geometry"]}, open(sys.argv[2], "w"))
json.dump(d["geometry"], open(sys.argv[3], "w"))
# A strip along the south edge of the second district (the first when there is one).
ring = features[min(1, len(features) - 1)]["geometry"]["coordinates"][0]
w, s = ring[0]; e, n = ring[2]
top = s + (n - s) * float(sys.argv[5]) / 100
json.dump({"type": "Feature", "properties": {"name": "Riverside strip"},
           "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, top], [w, top], [w, s]]]}},
          open(sys.argv[4], "w"))
PY
OFFICIAL=$($bin users create --role official --name "province bench" 2>/dev/null)
STAFF=$($bin users create --role staff --name "province bench" 2>/dev/null)
$bin dev issue-codes --count "$TOKENS" --out "$work/tokens.txt" 2>/dev/null
export SC_TOKENS_FILE="$work/tokens.txt" SC_STAFF="$STAFF"

SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>"$work/server.log" &
server=$!
BASELINE_PORT=$BASELINE_PORT cargo bench --quiet --bench baseline_server >/dev/null 2>&1 &
baseline=$!
wait_http "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$BASELINE_PORT/hello"
rss() { awk -v k="$1" '$1 == k":" {printf "%.0f", $2/1024}' "/proc/$server/status"; }
rss_before=$(rss VmRSS)

api() { curl -fsS -X POST "http://127.0.0.1:$PORT$1" -H 'Content-Type: application/json' -H "Authorization: Bearer $2" -d "$3"; }
# A list's ETag: "default", or "?district=N".
etag() { local q="$1"; [ "$q" = default ] && q=""; curl -fsS -o /dev/null -D - "http://127.0.0.1:$PORT/v1/status-list$q" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r'; }
lists=(default "?district=1")
for k in $(seq 2 "$DISTRICTS"); do lists+=("?district=$k"); done
# Every list built once before anything is measured.
for l in "${lists[@]}"; do etag "$l" >/dev/null; done
sleep 3
declare -A before
for l in "${lists[@]}"; do before[$l]=$(etag "$l"); done
t3=$(ms)
zone=$(api /v1/zones "$OFFICIAL" "@$work/zone.json")
t4=$(ms)
zone_id=$(printf '%s' "$zone" | sed -E 's/.*"id":"([^"]+)".*/\1/')
members=$(printf '%s' "$zone" | sed -E 's/.*"residents":([0-9]+).*/\1/')
rss_peak=$(rss VmHWM)
t5=$(ms)
api "/v1/zones/$zone_id/orders" "$OFFICIAL" '{"level":"mandatory","reason":"The embankment is failing."}' >/dev/null
t6=$(ms)
# Row 0 lives in district 0: its code was issued green; the next verify says red.
first=$(head -n1 "$work/tokens.txt")
verdict=$(api /v1/verify "$STAFF" "{\"token\":\"$first\"}")
t7=$(ms)
printf '%s' "$verdict" | grep -q '"current_colour":"red"' || { echo "the next verify did not show red: $verdict" >&2; exit 1; }

# Item 2: the order over district 1 rebuilds district 1's list; the others stay as they were.
until [ "$(etag '?district=1')" != "${before[?district=1]}" ]; do sleep 0.1; done
t8=$(ms)
sleep 3
moved=()
for l in "${lists[@]}"; do [ "$(etag "$l")" != "${before[$l]}" ] && moved+=("${l#\?}"); done
bundle_bytes() { curl -fsS -H 'Accept-Encoding: gzip' -H "Authorization: Bearer $STAFF" "http://127.0.0.1:$PORT/v1/verifier/bundle$1" | wc -c; }
strip_list="?district=$((DISTRICTS > 1 ? 2 : 1))"
strip_before=$(etag "$strip_list")
strip=$(api /v1/zones "$OFFICIAL" "@$work/strip.json")
strip_id=$(printf '%s' "$strip" | sed -E 's/.*"id":"([^"]+)".*/\1/')
strip_members=$(printf '%s' "$strip" | sed -E 's/.*"residents":([0-9]+).*/\1/')
t9=$(ms)
api "/v1/zones/$strip_id/orders" "$OFFICIAL" '{"level":"mandatory","reason":"The river is over its banks."}' >/dev/null
until [ "$(etag "$strip_list")" != "$strip_before" ]; do sleep 0.1; done
t10=$(ms)
sleep 2
bytes_strip=$(bundle_bytes "?districts=${strip_list#\?district=}")
bytes_red=$(bundle_bytes "?districts=1")
bytes_none=$(bundle_bytes "")

SC_BASE_TOKEN=$(curl -fs "http://127.0.0.1:$BASELINE_PORT/token")
export SC_BASE_TOKEN
run -d2s "http://127.0.0.1:$BASELINE_PORT/hello" >/dev/null
run -d2s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
run "http://127.0.0.1:$BASELINE_PORT/hello" >"$work/hello.txt"
run -s benches/signature.lua "http://127.0.0.1:$BASELINE_PORT/signature" >"$work/signature.txt"
run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/verify.txt"

echo "The province case on PostgreSQL: $RESIDENTS residents over $DISTRICTS districts"
echo "  generated in $(((t1 - t0) / 1000)) s; imported in $(((t2 - t1) / 1000)) s: $(grep -E '^imported|^peak' "$work/import.log" | tr '\n' ' ')"
echo "  zone over district 0: $members members in $((t4 - t3)) ms; server memory $rss_before MB before, peak $rss_peak MB"
echo "  mandatory order over it: $((t6 - t5)) ms; the next verify of a resident there: red ($((t7 - t6)) ms)"
echo "  lists per district: the order over district 1 rebuilt its list in $((t8 - t6)) ms; lists that moved: ${moved[*]:-none} (of ${#lists[@]})"
echo "  order over $strip_members residents of ${strip_list#\?}: its list rebuilt in $((t10 - t9)) ms"
echo "  bundle, gzip: ${strip_list#\?} ($STRIP_PERCENT % red) $bytes_strip bytes; district 1 (all red) $bytes_red bytes; default list only $bytes_none bytes (goal <= 153600)"
line() { printf "  %-34s: %10.0f req/s   p99 %8.2f ms\n" "$1" "$(rps "$2")" "$(to_ms "$(p99 "$2")")"; }
line "hello world (bare actix-web)" "$work/hello.txt"
line "signature only (bare actix-web)" "$work/signature.txt"
line "POST /v1/verify ($TOKENS codes)" "$work/verify.txt"
echo "  POST /v1/verify non-2xx: $(non2xx "$work/verify.txt")"
awk -v v="$(rps "$work/verify.txt")" -v s="$(rps "$work/signature.txt")" \
  -v vp="$(to_ms "$(p99 "$work/verify.txt")")" -v hp="$(to_ms "$(p99 "$work/hello.txt")")" \
  'BEGIN { printf "  verify / signature-only: %.3f x req/s (goal >= 0.8); p99 / hello p99: %.2f x (goal <= 2)\n", v/s, vp/hp }'
