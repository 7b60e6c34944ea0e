#!/bin/sh
# Container entry point of a revoada node. NB: its own settings (CREATE_CLUSTER, JOIN_FILE) carry no
# REVOADA_ prefix: every REVOADA_* variable is node config, and the strict config refuses unknown keys.
# With CREATE_CLUSTER=true this node creates the cluster
# and, once it answers, writes its join string to $JOIN_FILE (a volume shared with the other nodes);
# every other node waits for that file and joins with it. A node whose data dir already holds a cluster
# (a restart) ignores the join string and rejoins what it recorded.
set -eu
# Listen on the container's own address, not 0.0.0.0: a wildcard listener also announces 127.0.0.1:4101,
# which in a peer's container is that peer itself, so dials to it fail and waste the dial budget.
if [ -z "${REVOADA_LISTEN:-}" ]; then
  address="$(hostname -i 2>/dev/null | awk '{print $1}')"
  REVOADA_LISTEN="/ip4/${address:-0.0.0.0}/tcp/4101"
  export REVOADA_LISTEN
fi
join_file="${JOIN_FILE:-/var/lib/revoada-join/join-string}"
if [ "${CREATE_CLUSTER:-false}" = "true" ]; then
  (
    until revoada join-string > "$join_file.tmp" 2>/dev/null; do sleep 1; done
    mv "$join_file.tmp" "$join_file"
  ) &
  exec revoada start "$@"
fi
until [ -s "$join_file" ]; do
  echo "revoada-entrypoint: waiting for $join_file" >&2
  sleep 1
done
exec revoada start --join "$(cat "$join_file")" "$@"
