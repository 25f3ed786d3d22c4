#!/usr/bin/env bash
# Where a verify's time goes (issue 22, item 3): a flat perf profile of the release server while
# wrk sends POST /v1/verify with real codes of TOKENS residents (default 1000) among RESIDENTS
# (default 100,000), summed by what the code does (signature, SQLite, allocation, kernel, …),
# then the top symbols. BENCH_DB=postgres profiles PostgreSQL (the server process only: the
# database's own time is another process). SAFECODE_SCAN_BATCH=off profiles scans checked alone.
# Needs perf (Debian: linux-perf, installed here when missing).
set -euo pipefail
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
RESIDENTS="${RESIDENTS:-100000}" TOKENS="${TOKENS:-1000}" PORT="${PORT:-18185}"
bench_database sqlite
export DATABASE_URL="$db_url" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn SAFECODE_RATE_LIMITS=off
$bin dev gen-residents --count "$RESIDENTS" --out "$work/residents.csv"
$bin import residents "$work/residents.csv" >/dev/null 2>&1
SC_STAFF=$($bin users create --role staff --name "verify bench" 2>/dev/null)
export SC_STAFF SC_TOKENS_FILE="$work/tokens.txt"
$bin dev issue-codes --count "$TOKENS" --out "$SC_TOKENS_FILE" 2>/dev/null
SAFECODE_BIND="127.0.0.1:$PORT" $bin serve 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null; finish_bench' EXIT
wait_http "http://127.0.0.1:$PORT/healthz"
wrk -t1 -c32 -d3s -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >/dev/null
wrk -t1 -c32 -d20s --latency -s benches/verify.lua "http://127.0.0.1:$PORT/v1/verify" >"$work/wrk.txt" &
w=$!
sleep 3
perf record -F 499 -p $server -o "$work/perf.data" -- sleep 12 2>/dev/null >/dev/null
wait $w
grep -E "Requests/sec|99%|non-2xx" "$work/wrk.txt"
# By thread: on SQLite the facts read runs on sqlx's worker threads (one per connection), so
# their share is what the database read costs the server, hand-offs included.
echo "--- by thread (% of the server's samples)"
perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E "^ +[0-9]" |
  sed -e 's/actix-server wo.*/& (HTTP, signatures, decoding, rules, answers)/' -e 's/sqlx-sqlite-wor.*/& (SQLite: the batched facts reads)/'
perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -E "^ +[0-9]" >"$work/symbols.txt"
echo "--- by what the code does (% of the server's samples)"
awk '{
  pct = $1 + 0; line = $0
  if (line ~ /\[kernel/) c = "kernel (network, thread switches)"
  else if (line ~ /curve25519|ed25519|sha512|Sha512|keccak|merlin|Scalar|scalar_mul|FieldElement|EdwardsPoint|edwards/) c = "Ed25519 (signature checks)"
  else if (line ~ /sqlite3|pcache|Btree|Vdbe/) c = "SQLite"
  else if (line ~ /malloc|free|_int_|unlink_chunk|memmove|memcpy|memset|realloc|cfree/) c = "allocation and copying"
  else if (line ~ /base45|ciborium|coset|cbor/) c = "SC1 decoding (base45, CBOR, COSE)"
  else if (line ~ /serde_json|sonic|itoa|ryu/) c = "JSON"
  else if (line ~ /sqlx|flume|postgres|Pg/) c = "sqlx (driver, channels)"
  else if (line ~ /tokio|parking|futex|pthread|mio|epoll|crossbeam/) c = "runtime and locks"
  else if (line ~ /actix|http|h1|httparse|bytes/) c = "HTTP (actix)"
  else { c = "other"; if (shown++ < 25) print line > "/dev/stderr" }
  sum[c] += pct
} END { for (c in sum) printf "  %6.2f %%  %s\n", sum[c], c }' "$work/symbols.txt" | sort -rn
echo "--- top symbols"
head -30 "$work/symbols.txt"
