#!/usr/bin/env bash
# One offline upload of 10,000 check-ins (POST /v1/shelters/{id}/sync, 10,000 different
# residents' codes) against a release build on SQLite, timed end to end with curl. In the
# same run, the same upload again: every event is then a duplicate, which measures reading
# and checking the codes without writing (the floor for an upload of that size).
# Goal (issue 6): <= 5 s for 10,000 events.
#   benches/sync-load.sh                  # SQLite
#   BENCH_DB=postgres benches/sync-load.sh
# Env: EVENTS (default 10000), PORT (default 18184).
set -euo pipefail
EVENTS="${EVENTS:-10000}"
PORT="${PORT:-18184}"
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
db_url="sqlite://$work/data/safecode.db"
if [ "${BENCH_DB:-sqlite}" = postgres ]; then
  scripts/start-postgres.sh
  name="safecode_bench_$$"
  psql postgres://postgres@127.0.0.1:5432/postgres -qc "CREATE DATABASE $name"
  db_url="postgres://postgres@127.0.0.1:5432/$name"
fi
export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

$bin dev gen-residents --count "$EVENTS" --out "$work/residents.csv"
$bin import residents "$work/residents.csv" >/dev/null 2>&1
$bin dev issue-codes --count "$EVENTS" --out "$work/tokens.txt" 2>/dev/null
official=$($bin users create --role official --name "sync bench" 2>/dev/null)
SAFECODE_BIND="127.0.0.1:$PORT" SAFECODE_MAX_DB_CONNECTIONS=16 $bin serve 2>"$work/server.log" &
server=$!
wait_http "http://127.0.0.1:$PORT/healthz"
shelter=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/shelters" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $official" \
  -d '{"name":"Bench school gym","location":{"lat":30.2,"lon":120.3},"capacity":100000}' |
  sed -E 's/.*"id":"([^"]+)".*/\1/')
staff=$($bin users create --role staff --name "tablet" --shelter "$shelter" 2>/dev/null)

python3 - "$work/tokens.txt" "$work/batch.json" <<'PY'
import json, sys
tokens = [t for t in open(sys.argv[1]).read().split("\n") if t]
events = [{"type": "checkin", "idempotency_key": f"tablet-7-{i:05d}", "token": t,
           "device_time": f"2026-11-28T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
           "device_id": "tablet-7"} for i, t in enumerate(tokens)]
json.dump({"events": events}, open(sys.argv[2], "w"))
PY
upload() {
  curl -fsS -o "$work/report.json" -w '%{time_total}' -X POST "http://127.0.0.1:$PORT/v1/shelters/$shelter/sync" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $staff" --data-binary @"$work/batch.json"
}
first=$(upload)
counts() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["applied"], r["duplicates"], r["conflicts"])' "$work/report.json"; }
first_counts=$(counts)
again=$(upload)
again_counts=$(counts)
echo "Offline upload of $EVENTS check-ins on ${BENCH_DB:-sqlite} ($(du -h "$work/batch.json" | cut -f1) of JSON)"
echo "  first upload : ${first} s   (applied/duplicate/conflict: $first_counts; goal <= 5 s)"
echo "  same again   : ${again} s   (applied/duplicate/conflict: $again_counts; nothing written)"
awk -v a="$first" -v b="$again" 'BEGIN { printf "  first / again: %.2f x\n", a/b }'
