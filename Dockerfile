# keygate: admin plane + gateway (`keygate start`). Build and runtime share Debian bookworm's glibc,
# because better-sqlite3 is a native addon compiled in the build stage.
FROM node:20-bookworm-slim AS build
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

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    KEYGATE_ADMIN_HOST=0.0.0.0 \
    KEYGATE_GATEWAY_HOST=0.0.0.0 \
    KEYGATE_DB_PATH=/app/data/keygate.db
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 4000 4100
STOPSIGNAL SIGTERM
CMD ["node", "dist/bin/keygate.js", "start"]
