#!/usr/bin/env bash
# Puts HAProxy (Debian's package, installed here if missing) in front of several
# `safecode serve` processes, the way a province would run them (docs/capacity.md):
#
#   scripts/haproxy.sh start DIR LISTEN SOURCE SERVER...   e.g. start /tmp/lb 127.0.0.2:18080 127.0.0.3 127.0.0.1:8081 127.0.0.1:8082
#   scripts/haproxy.sh stop DIR
#
# LISTEN is where clients connect; HAProxy reaches the servers from the address SOURCE, which
# the servers list in SAFECODE_TRUSTED_PROXIES so that they read the client's own address from
# the X-Forwarded-For HAProxy appends (per-address rate limits stay per client, not per proxy).
# A server is taken out when /healthz fails twice (0.5 s apart). A request that got no answer
# (the server died, or refused the connection) is sent to another server when it is safe to
# send twice: any GET, POST /v1/verify (it changes nothing), and a request carrying an
# Idempotency-Key to a route that applies it once (registration, a resident's correction and
# reclaim, check-ins, check-outs, distributions, orders, alerts, alert contacts). Any other request that
# changes something gets the 502 and the client decides: a key sent to a route that does not
# read it would be applied twice.
set -euo pipefail
cmd="${1:?start or stop}"
dir="${2:?a directory for the config, pid file and log}"
case "$cmd" in
  stop)
    [ -f "$dir/haproxy.pid" ] && kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true
    exit 0
    ;;
  start) ;;
  *) echo "usage: $0 start DIR LISTEN SOURCE SERVER... | stop DIR" >&2; exit 2 ;;
esac
listen="${3:?LISTEN}"
source="${4:?SOURCE}"
shift 4
[ "$#" -ge 1 ] || { echo "at least one SERVER" >&2; exit 2; }
if ! command -v haproxy >/dev/null; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  # The package's own service is not what the project runs.
  service haproxy stop >/dev/null 2>&1 || true
fi
mkdir -p "$dir"
{
  cat <<CFG
global
    maxconn 4096
    pidfile $dir/haproxy.pid

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend safecode
    bind $listen
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    acl safe_to_resend path /v1/verify
    acl keyed req.hdr(idempotency-key) -m found
    acl reads_key path_reg ^/v1/(residents|residents/[0-9a-fA-F-]{36}|residents/[0-9a-fA-F-]{36}/reclaim|shelters/[0-9a-fA-F-]{36}/(checkins|checkouts|distributions)|zones/[0-9a-fA-F-]{36}/orders|alerts|alert-contacts)\$
    http-request disable-l7-retry if !METH_GET !safe_to_resend !keyed
    http-request disable-l7-retry if !METH_GET !safe_to_resend !reads_key
    default_backend servers

backend servers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2 source $source
CFG
  i=0
  for s in "$@"; do
    i=$((i + 1))
    echo "    server s$i $s check"
  done
} >"$dir/haproxy.cfg"
haproxy -c -q -f "$dir/haproxy.cfg"
haproxy -D -f "$dir/haproxy.cfg"
for _ in $(seq 1 50); do
  curl -fs "http://$listen/healthz" >/dev/null && exit 0
  sleep 0.1
done
echo "HAProxy does not answer on $listen" >&2
exit 1
