#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster if it is not accepting connections, and waits for it.
# The tests need a server where they may create databases (127.0.0.1:5432, trust auth).
set -euo pipefail
if pg_isready -h 127.0.0.1 -p 5432 -q; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
  exit 1
fi
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
  sleep 1
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
