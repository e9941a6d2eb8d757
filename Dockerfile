# keygate: admin plane + gateway (`keygate start`) on Node 24 LTS, the same Node as CI's second run
# (.ci/run). Both stages use the same image, so the better-sqlite3 addon compiled in the build stage
# links against the same Debian bookworm glibc and the same Node ABI as the runtime stage.
# The tag is exact (no floating `24`); to pin by digest as well, append `@sha256:<digest>` from
# `docker buildx imagetools inspect node:24.22.3-bookworm-slim` (not resolvable offline here).
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY admin ./admin
COPY gateway ./gateway
COPY bin ./bin
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM/SIGINT to `keygate start` (which stops the gateway and the
# admin plane gracefully) and reaps zombies. No --init needed on `docker run`.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    KEYGATE_ADMIN_HOST=0.0.0.0 \
    KEYGATE_GATEWAY_HOST=0.0.0.0 \
    KEYGATE_DB_PATH=/app/data/keygate.db
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The console's static files are read from the package (admin/console/assets), not compiled.
COPY --from=build --chown=node:node /app/admin/console/assets ./admin/console/assets
RUN mkdir -p /app/data && chown node:node /app/data
# Non-root: the image's `node` user (uid 1000) owns only /app/data.
USER node
VOLUME ["/app/data"]
EXPOSE 4000 4100
STOPSIGNAL SIGTERM
# Both planes answer /healthz (`keygate health` exits non-zero when either does not).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/bin/keygate.js", "health"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/bin/keygate.js", "start"]
