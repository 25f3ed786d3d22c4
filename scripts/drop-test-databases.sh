#!/usr/bin/env bash
# Drops the databases the test suite created (one per test, named safecode_test_*).
set -euo pipefail
url="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
psql "$url" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'safecode\_test\_%'" |
  while read -r db; do
    psql "$url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
