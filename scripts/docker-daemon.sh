#!/usr/bin/env bash
# Starts or stops a private Docker daemon for revoada's container tests: `docker-daemon.sh start|stop|purge|env`.
#
# The daemon never touches the host firewall or forwarding (`--iptables=false --ip-forward=false`) and has no
# default bridge (`--bridge=none`); compose's own bridge networks still connect the containers, with no route
# out. It keeps its own socket, pidfile, exec root and data root under REVOADA_DOCKER_ROOT, so it neither sees
# nor disturbs another Docker on the machine. `stop` ends only the daemon whose pid is in our pidfile; `purge`
# also deletes the data root (images, volumes, build cache).
set -euo pipefail
ROOT="${REVOADA_DOCKER_ROOT:-/var/lib/revoada-docker}"
RUN="${REVOADA_DOCKER_RUN:-/run/revoada-docker}"
SOCK="$RUN/docker.sock"
PIDFILE="$RUN/dockerd.pid"
DOCKER=/usr/bin/docker
CGROUP_PARENT=revoada-docker
CONTAINER_CPU_PEERS=5
HERE="$(cd "$(dirname "$0")" && pwd)"

running () { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start () {
  "$HERE/ensure-apt.sh" /usr/sbin/dockerd:docker.io /usr/bin/docker-compose:docker-compose
  if running; then return 0; fi
  mkdir -p "$ROOT" "$RUN/exec"
  # The daemon outlives this script; its log goes beside the socket.
  # Containers go under their own cgroup parent. On cgroup v1 a parent group competes for CPU like one
  # process, so five containers on a busy host would share one process's slice; giving the group the
  # weight of CONTAINER_CPU_PEERS processes makes them compete like the same nodes run as host processes.
  if [ -d /sys/fs/cgroup/cpu ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p "/sys/fs/cgroup/cpu/$CGROUP_PARENT"
    echo $((1024 * CONTAINER_CPU_PEERS)) > "/sys/fs/cgroup/cpu/$CGROUP_PARENT/cpu.shares" || true
  fi
  setsid /usr/sbin/dockerd --iptables=false --ip-forward=false --bridge=none --cgroup-parent "/$CGROUP_PARENT" \
    --host "unix://$SOCK" --pidfile "$PIDFILE" --data-root "$ROOT" --exec-root "$RUN/exec" \
    >"$RUN/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    if DOCKER_HOST="unix://$SOCK" "$DOCKER" version >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "docker-daemon: dockerd did not answer on $SOCK within 60 s; its log:" >&2
  tail -n 30 "$RUN/dockerd.log" >&2 || true
  return 1
}

stop () {
  if ! running; then rm -f "$PIDFILE"; return 0; fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "docker-daemon: dockerd $pid still running after 30 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# Docker creates the cgroup parent in every controller (and a buildkit group inside); all empty once the
# daemon is gone.
remove_cgroups () {
  local group
  for group in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
    [ -d "$group" ] && find "$group" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop; remove_cgroups ;;
  # dockerd can leave its netns mount under our run dir: unmount what is ours before deleting it.
  purge) stop; awk -v run="$RUN/" 'index($2, run) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount || true
         rm -rf "$ROOT" "$RUN"; remove_cgroups ;;
  # `eval "$(scripts/docker-daemon.sh env)"` points docker and docker-compose at this daemon.
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  *) echo "usage: $0 start|stop|purge|env" >&2; exit 2 ;;
esac
