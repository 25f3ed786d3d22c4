#!/usr/bin/env bash
# Admissions (POST /v1/shelters/{id}/checkins) under wrk against a release build, beside
# POST /v1/verify on the same server, same codes, same run: each admission request carries a
# different resident's code (benches/admit.lua), so every one opens a stay, takes a place,
# writes the audit chain and commits.
# Goal (issue 5): admissions >= 0.5 x verify's req/s on SQLite; with durable commits
# (issue 16: SQLite synchronous=FULL, the default) >= 0.4 x. On SQLite the run is made twice,
# on a fresh database each time: with synchronous=NORMAL (before) and FULL (now).
#   benches/admission-load.sh                  # SQLite (the embedded default)
#   BENCH_DB=postgres benches/admission-load.sh
# Env: CODES (pool of distinct codes, default 100000), DURATION (default 10s),
#      CONNECTIONS (default 32), PORT (default 18183), SYNCS (default "normal full").
set -euo pipefail
CODES="${CODES:-100000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18183}"
THREADS=2
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"


line() { printf "  %-30s: %8.0f req/s   p99 %8.2f ms   non-2xx %s\n" "$1" "$(rps "$2")" "$(to_ms "$(p99 "$2")")" "$(non2xx "$2")"; }

server=
work=
name=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$name" ]; then
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
  fi
  [ -n "$work" ] && rm -rf "$work"
  server= work= name=
}
trap cleanup EXIT

# One measurement on a fresh database: verify, then admissions, with SQLite's `sync` mode.
bench() {
  local sync=$1
  work=$(mktemp -d)
  local db_url="sqlite://$work/data/safecode.db"
  if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    scripts/start-postgres.sh
    name="safecode_bench_$$"
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "CREATE DATABASE $name"
    db_url="postgres://postgres@127.0.0.1:5432/$name"
  fi
  export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off \
    SAFECODE_SQLITE_SYNCHRONOUS="$sync"
  $bin dev gen-residents --count "$CODES" --out "$work/residents.csv"
  $bin import residents "$work/residents.csv" >/dev/null 2>&1
  $bin dev issue-codes --count "$CODES" --out "$work/tokens.txt" 2>/dev/null
  local official
  official=$($bin users create --role official --name "admission bench" 2>/dev/null)
  SAFECODE_BIND="127.0.0.1:$PORT" SAFECODE_MAX_DB_CONNECTIONS=16 $bin serve 2>"$work/server.log" &
  server=$!
  wait_http "http://127.0.0.1:$PORT/healthz"
  local shelter staff occupancy
  shelter=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/shelters" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $official" \
    -d '{"name":"Bench school gym","location":{"lat":30.2,"lon":120.3},"capacity":100000}' |
    sed -E 's/.*"id":"([^"]+)".*/\1/')
  staff=$($bin users create --role staff --name "admission desk" --shelter "$shelter" 2>/dev/null)
  export SC_TOKENS_FILE="$work/tokens.txt" SC_STAFF="$staff" SC_SHELTER="$shelter" SC_THREADS=$THREADS

  run -d2s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
  run -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/verify.txt"
  local s0 p0 s1 p1
  s0=$(cpu_ticks $server) p0=$(cpu_ticks $(pg_pids))
  run -s benches/admit.lua "http://127.0.0.1:$PORT/" >"$work/admit.txt"
  s1=$(cpu_ticks $server) p1=$(cpu_ticks $(pg_pids))
  occupancy=$(curl -fs "http://127.0.0.1:$PORT/v1/shelters/$shelter" -H "Authorization: Bearer $official" |
    sed -E 's/.*"occupancy":([0-9]+).*/\1/')

  echo "Admissions on ${BENCH_DB:-sqlite} (synchronous=$sync) with $CODES distinct codes, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
  line "POST /v1/verify" "$work/verify.txt"
  line "POST /v1/shelters/{id}/checkins" "$work/admit.txt"
  echo "  CPU per admission: server $(us_per_request "$s0" "$s1" "$(reqs "$work/admit.txt")") us$([ "${BENCH_DB:-sqlite}" = postgres ] && echo ", PostgreSQL $(us_per_request "$p0" "$p1" "$(reqs "$work/admit.txt")") us")"
  echo "  occupancy after the run: $occupancy (every admission answered 201 took one place)"
  awk -v a="$(rps "$work/admit.txt")" -v v="$(rps "$work/verify.txt")" \
    'BEGIN { printf "  admissions / verify: %.3f x req/s (goal >= 0.4 with durable commits)\n", a/v }'
  if [ "$(non2xx "$work/admit.txt")" != 0 ]; then
    echo "  some admissions failed (pool of codes too small for the run?):" >&2
    grep -v '^$' "$work/server.log" | tail -5 >&2
  fi
  cleanup
}

if [ "${BENCH_DB:-sqlite}" = postgres ]; then
  bench full
else
  for sync in ${SYNCS:-normal full}; do bench "$sync"; done
fi
