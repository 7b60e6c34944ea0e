# revoada node image. Two ways to get the code in, one runtime:
#   --target release  (what compose uses by default) builds inside: npm install + tsc in a build stage;
#   --target prebuilt packages a build made on the host (scripts/stage-prebuilt.sh puts dist/ and the
#                     production node_modules/ in .docker-prebuilt/), for machines whose containers cannot
#                     reach the npm registry (air-gapped fleets, our CI).
# The base image is Debian bookworm with Node 20; where no registry is reachable, scripts/build-base-image.sh
# builds it locally (debootstrap + the npm registry's node binary) under the same tag.
# NB: always pass --target: the last stage is `prebuilt`, and the classic builder builds every stage before
# the target.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS runtime
# A fixed non-root uid/gid so volume ownership survives image rebuilds.
RUN groupadd --system --gid 10001 revoada \
 && useradd --system --uid 10001 --gid revoada --home-dir /var/lib/revoada --shell /usr/sbin/nologin revoada \
 && mkdir -p /var/lib/revoada /var/lib/revoada-join \
 && chown revoada:revoada /var/lib/revoada /var/lib/revoada-join \
 && chmod 0700 /var/lib/revoada
# Config comes from REVOADA_* variables (docs/OPERATIONS.md); these are the container defaults. The
# entrypoint listens on the container's address, port 4101, unless REVOADA_LISTEN says otherwise.
ENV NODE_ENV=production \
    REVOADA_DATA_DIR=/var/lib/revoada \
    JOIN_FILE=/var/lib/revoada-join/join-string
WORKDIR /opt/revoada
COPY scripts/container-entrypoint.sh /usr/local/bin/revoada-entrypoint
# The bundle the `revoada` bin runs (scripts/bundle.mjs), with the bin's Node flags (docs/STACK.md).
RUN printf '#!/bin/sh\nexec node --max-semi-space-size=1 --interrupt-budget=1048576 /opt/revoada/dist/bundle/main.js "$@"\n' > /usr/local/bin/revoada \
 && chmod 0755 /usr/local/bin/revoada /usr/local/bin/revoada-entrypoint
VOLUME ["/var/lib/revoada"]
EXPOSE 4101
# Healthy = the node's admin API answers its status with the token in the data dir.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 CMD ["revoada", "status"]
USER revoada
ENTRYPOINT ["revoada-entrypoint"]

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.mjs ./scripts/bundle.mjs
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM runtime AS release
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist/bundle ./dist/bundle
COPY catalog ./catalog

FROM runtime AS prebuilt
COPY .docker-prebuilt/app/ ./
