#!/usr/bin/env bash
# `npm run test:compose`: the docker-compose testbed for real, offline. Installs docker.io, docker-compose
# and debootstrap when missing, starts a private dockerd (scripts/docker-daemon.sh: no firewall changes,
# no default bridge), builds the base image locally (scripts/build-base-image.sh) and the node image from a
# host build (Dockerfile target `prebuilt`), then: `up` 5 nodes → one cluster → target ha-three → kill the
# Raft leader's container → a new leader and the dead node's control-plane roles on others → `down -v`.
# Leaves no containers, volumes, networks, images or daemon behind (REVOADA_KEEP_DOCKER=1 keeps the
# daemon's data root, with the base image, for faster reruns).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's docker CLI first: it builds with the daemon's own BuildKit (a newer CLI elsewhere wants buildx).
export PATH="/usr/bin:/usr/sbin:$PATH"
export COMPOSE_PROJECT_NAME=revoada-compose-test REVOADA_IMAGE_TARGET=prebuilt REVOADA_BUILD_NETWORK=none
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
WAIT_S="${REVOADA_COMPOSE_WAIT_S:-300}"
SERVICES=(node1 node2 node3 node4 node5)
t0=$SECONDS
log () { echo "test:compose [$((SECONDS - t0))s] $*" >&2; }

scripts/ensure-apt.sh /usr/sbin/dockerd:docker.io /usr/bin/docker-compose:docker-compose /usr/sbin/debootstrap:debootstrap
eval "$(scripts/docker-daemon.sh env)"
daemon_was_running=0
if docker version >/dev/null 2>&1; then daemon_was_running=1; fi

cleanup () {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "FAILED; last log lines of each node:"
    for s in "${SERVICES[@]}"; do docker-compose logs --no-color --tail=15 "$s" 2>/dev/null | cut -c1-400 >&2 || true; done
  fi
  docker-compose down -v --rmi local --remove-orphans >/dev/null 2>&1 || true
  docker image rm -f revoada:local >/dev/null 2>&1 || true
  docker builder prune -af >/dev/null 2>&1 || true
  rm -rf .docker-prebuilt
  if [ "$daemon_was_running" -eq 0 ]; then
    if [ "${REVOADA_KEEP_DOCKER:-0}" = 1 ]; then scripts/docker-daemon.sh stop; else scripts/docker-daemon.sh purge; fi
  fi
  log "cleaned up (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
# A signal ends the script through `exit`, so the EXIT trap cleans up then too.
trap "exit 143" TERM
trap "exit 130" INT

scripts/docker-daemon.sh start
scripts/build-base-image.sh
log "base image ready"
scripts/stage-prebuilt.sh
docker-compose build node1 >/dev/null
log "node image built"
docker-compose up -d
log "5 containers up"

# `revoada` inside a container; --stale reads need no quorum round, so they answer even mid-election.
in_node () { docker-compose exec -T "$1" revoada "${@:2}"; }
json () { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);process.stdout.write(String(($1)(j)))})"; }
wait_for () {
  local what="$1" deadline=$((SECONDS + WAIT_S))
  until eval "$2" >/dev/null 2>&1; do
    if [ "$SECONDS" -gt "$deadline" ]; then log "timed out after ${WAIT_S}s waiting for $what"; return 1; fi
    sleep 2
  done
  log "$what"
}
shape_of () { in_node "$1" shape --json --stale; }
members_in () { shape_of "$1" | json 'j => j.members.length'; }
etcd_holders () { shape_of "$1" | json "j => j.members.filter(m => m.roles.includes('etcd')).map(m => m.nodeId).sort().join(' ')"; }

wait_for "one cluster of 5 members" '[ "$(members_in node1)" = 5 ]'
wait_for "target ha-three committed" 'in_node node1 target set ha-three --json | grep -q "\"applied\""'
wait_for "ha-three reached: 3 etcd holders, 3 voters" \
  '[ "$(etcd_holders node1 | wc -w)" = 3 ] && [ "$(shape_of node1 | json "j => j.voters.length")" = 3 ]'

leader=""
wait_for "a leader known" 'leader="$(in_node node1 status --json | json "j => j.leader ?? \"\"")"; [ -n "$leader" ]'
victim=""
for s in "${SERVICES[@]}"; do
  if [ "$(in_node "$s" id)" = "$leader" ]; then victim="$s"; fi
done
[ -n "$victim" ] || { log "leader $leader is in no container"; exit 1; }
survivor=node1
[ "$victim" = node1 ] && survivor=node2
log "leader is $victim ($leader); killing its container"
docker-compose kill "$victim" >/dev/null

wait_for "a new leader elected (seen from $survivor)" \
  'new="$(in_node "$survivor" status --json | json "j => j.leader ?? \"\"")"; [ -n "$new" ] && [ "$new" != "$leader" ]'
wait_for "the dead leader's roles moved: 3 etcd holders without it" \
  'h="$(etcd_holders "$survivor")"; [ "$(echo "$h" | wc -w)" = 3 ] && ! echo "$h" | grep -q "$leader"'
docker-compose down -v >/dev/null 2>&1
log "PASSED: down -v done"
