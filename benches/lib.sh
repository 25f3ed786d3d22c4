# Sourced by the load scripts in benches/: the release build of safecode, wrk, and the
# helpers that read wrk's output, so that every script builds, waits and measures the same
# way. A script sets DURATION and CONNECTIONS (and THREADS, default 2) before `run`.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# SAFECODE_BIN runs another build instead (an earlier commit's, for a before/after on this
# machine's conditions of the moment).
if [ -z "${SAFECODE_BIN:-}" ]; then cargo build --release --quiet --bin safecode; fi
# shellcheck disable=SC2034 # used by the scripts that source this
bin="${SAFECODE_BIN:-${CARGO_TARGET_DIR:-./target}/release/safecode}"
THREADS="${THREADS:-2}"

# wrk with the script's settings; further arguments are wrk's.
run() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@"; }
# From a saved wrk report: requests per second, the 99th percentile, non-2xx answers.
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/^non-2xx/ {print $2}' "$1"; }
# wrk's latency ("850.00us", "1.20ms", "2.00s") in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else printf "%.3f", v*1000 }'; }
# Waits (up to 20 s each) until every URL answers 2xx.
wait_http() {
  local url
  for url in "$@"; do
    for _ in $(seq 1 100); do
      curl -fs "$url" >/dev/null && break
      sleep 0.2
    done
  done
}
# A scratch directory for the run and a fresh database in it: SQLite, or PostgreSQL when
# BENCH_DB=postgres (the script's default is $1). Sets work and db_url; `finish_bench` removes
# both, so a script's cleanup stops its own processes and then calls it.
bench_database() {
  BENCH_DB="${BENCH_DB:-${1:-sqlite}}"
  work=$(mktemp -d)
  db_url="sqlite://$work/data/safecode.db"
  if [ "$BENCH_DB" = postgres ]; then
    scripts/start-postgres.sh
    bench_db_name="safecode_bench_$$"
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "CREATE DATABASE $bench_db_name"
    db_url="postgres://postgres@127.0.0.1:5432/$bench_db_name"
  fi
}
finish_bench() {
  if [ -n "${bench_db_name:-}" ]; then
    psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS $bench_db_name WITH (FORCE)" || true
  fi
  rm -rf "$work"
}
# CPU time (clock ticks, user + system) the given processes have used so far; with `pg_pids`,
# what PostgreSQL's processes used (its backends live as long as the server's pool keeps them).
cpu_ticks() { local p; for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'; }
pg_pids() { pgrep -x postgres || true; }
# Requests a saved wrk report counted, and CPU microseconds per request from two tick readings.
reqs() { awk '/requests in/ {print $1}' "$1"; }
us_per_request() { awk -v t="$(($2 - $1))" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.0f", t / hz / n * 1e6; else print "-" }'; }
