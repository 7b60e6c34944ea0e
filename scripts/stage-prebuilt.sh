#!/usr/bin/env bash
# Stages a host build for the Dockerfile's `prebuilt` target: .docker-prebuilt/app/ gets dist/bundle (what the
# `revoada` bin runs),
# package.json and the production node_modules (a pruned copy of ours: no registry needed, which is the point).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
rm -rf .docker-prebuilt
mkdir -p .docker-prebuilt/app/dist
cp -a dist/bundle .docker-prebuilt/app/dist/bundle
cp -a catalog .docker-prebuilt/app/catalog   # the materializer's default role catalog
cp package.json package-lock.json .docker-prebuilt/app/
cp -a node_modules .docker-prebuilt/app/node_modules
(cd .docker-prebuilt/app && npm prune --omit=dev --no-audit --no-fund --offline >/dev/null)
rm -f .docker-prebuilt/app/package-lock.json
echo "stage-prebuilt: $(du -sh .docker-prebuilt/app | cut -f1) in .docker-prebuilt/app"
