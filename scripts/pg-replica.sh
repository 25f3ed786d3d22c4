#!/usr/bin/env bash
# A PostgreSQL primary and a streaming replica of it, of the machine's PostgreSQL version, in
# DIR and owned by the postgres user, for the tests of DATABASE_READ_URL (the machine's own
# cluster is left alone: it does not allow replication connections).
#
#   scripts/pg-replica.sh start DIR PRIMARY_PORT REPLICA_PORT   # prints the two URLs
#   scripts/pg-replica.sh stop DIR
set -euo pipefail
cmd="${1:?start or stop}"
dir="${2:?DIR}"
bin="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n1)/bin"
as_pg() { runuser -u postgres -- "$@"; }
case "$cmd" in
  stop)
    for n in replica primary; do
      [ -d "$dir/$n" ] && as_pg "$bin/pg_ctl" -D "$dir/$n" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
    exit 0
    ;;
  start) ;;
  *) echo "usage: $0 start DIR PRIMARY_PORT REPLICA_PORT | stop DIR" >&2; exit 2 ;;
esac
pport="${3:?PRIMARY_PORT}"
rport="${4:?REPLICA_PORT}"
mkdir -p "$dir"
chown postgres "$dir"
as_pg "$bin/initdb" -D "$dir/primary" -A trust -U postgres >"$dir/initdb.log" 2>&1
cat >>"$dir/primary/postgresql.conf" <<CONF
port = $pport
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 4
shared_buffers = 32MB
CONF
echo "host replication all 127.0.0.1/32 trust" >>"$dir/primary/pg_hba.conf"
as_pg "$bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/replica" -R -X stream >/dev/null
cat >>"$dir/replica/postgresql.conf" <<CONF
port = $rport
hot_standby = on
CONF
as_pg "$bin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null
echo "postgres://postgres@127.0.0.1:$pport/postgres"
echo "postgres://postgres@127.0.0.1:$rport/postgres"
