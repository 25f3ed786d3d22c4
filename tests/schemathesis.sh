#!/usr/bin/env bash
# Schema-driven attack: schemathesis (PyPI, in a virtual environment this script makes) against
# /v1/openapi.json of a running server, once without a token and once as each role. Fails on
# any 5xx and on any response that breaks the published schema.
#
#   tests/schemathesis.sh                     short run (CI): ST_EXAMPLES=8 per operation and role
#   ST_EXAMPLES=40 ST_PROFILE=release tests/schemathesis.sh    the long run
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${ST_EXAMPLES:-8}"
PROFILE="${ST_PROFILE:-debug}"
CHECKS="not_a_server_error,response_schema_conformance,content_type_conformance"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/st-venv"
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
if [ "$PROFILE" = release ]; then
  cargo build --release -q --bin safecode
  bin="$target/release/safecode"
else
  cargo build -q --bin safecode
  bin="$target/debug/safecode"
fi

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL="sqlite://$work/data/safecode.db" SAFECODE_KEYS_DIR="$work/keys" RUST_LOG=warn
# The attack sends thousands of registrations and bad tokens from one address.
export SAFECODE_RATE_LIMITS=off
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SAFECODE_BIND="127.0.0.1:$port" "$bin" serve 2>"$work/server.log" &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

official=$("$bin" users create --role official --name "ST Official")
admin=$("$bin" users create --role admin --name "ST Admin")
staff=$("$bin" users create --role staff --name "ST Desk")
id_number=$(python3 - <<'PY'
import random
w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
body = "330109" + "19%02d" % random.randint(40, 99) + "0%d" % random.randint(1, 9) + "%02d" % random.randint(10, 28) + "%03d" % random.randint(0, 999)
print(body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11])
PY
)
resident=$(curl -fs -H 'Content-Type: application/json' \
  -d "{\"name\": \"Test Resident\", \"id_number\": \"$id_number\", \"location\": {\"lat\": 30.1, \"lon\": 120.2}}" \
  "$base/v1/residents" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

total=0
failed=0
for role in none resident staff official admin; do
  case $role in
    none) auth=() ;;
    resident) auth=(-H "Authorization: Bearer $resident") ;;
    staff) auth=(-H "Authorization: Bearer $staff") ;;
    official) auth=(-H "Authorization: Bearer $official") ;;
    admin) auth=(-H "Authorization: Bearer $admin") ;;
  esac
  echo "--- schemathesis as $role"
  # Signing out (or a resident deleting their record) would end the role's token for the rest
  # of the run (tests/api/trail.rs holds deletion); the event stream stays open for minutes by
  # design (tests/api/console.rs holds it).
  run_role() {
    "$venv/bin/st" run "$base/v1/openapi.json" "${auth[@]}" --checks "$CHECKS" \
      --max-examples "$EXAMPLES" --seed 1 --workers 2 --no-color --warnings off \
      --exclude-path /v1/tokens/current --exclude-path /v1/events --exclude-operation-id delete_me \
      > "$work/$role.log" 2>&1
  }
  # CPython 3.11.7's ast module can fail inside Hypothesis with "AST constructor recursion depth
  # mismatch" (a bug of the interpreter, fixed in later releases): the tool crashed, the server
  # was not found wanting. Such a run, with no failed check, is run once more; anything else
  # counts.
  tool_crash() {
    grep -q "AST constructor recursion depth mismatch" "$work/$role.log" &&
      ! grep -q "FAILURES" "$work/$role.log"
  }
  if run_role || { tool_crash && echo "    (the tool itself crashed: running $role again)" && run_role; }; then
    status=ok
  else
    status=FAILED
    failed=$((failed + 1))
    cat "$work/$role.log"
  fi
  n=$(grep -oE '[0-9]+ generated' "$work/$role.log" | tail -n1 | cut -d' ' -f1)
  n=${n:-0}
  tail -n 3 "$work/$role.log"
  echo "    $role: $n cases, $status"
  total=$((total + n))
done
echo "schemathesis: $total cases in all, $failed roles with failures"
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:"; grep -A3 panicked "$work/server.log"; exit 1
fi
[ "$failed" -eq 0 ]
