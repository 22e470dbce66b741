# chatterbox as a container: `docker build -t chatterbox .`, then e.g.
#   docker run --rm chatterbox --help
#   docker run -v chatterbox-data:/data -p 127.0.0.1:7000:7000 chatterbox ranges serve --join … (deploy/compose.yaml)
# Three stages: production dependencies (better-sqlite3 is a native addon, compiled here when no prebuilt binary is
# reachable, so the toolchain stays in this stage), the build (every dependency, tsc and the CLI bundles), and the
# image that runs: Node, the production node_modules and dist/ only, as the unprivileged user `node`.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# package.json overrides msgpackr-extract with this local stand-in: npm ci needs it in place.
COPY package.json package-lock.json ./
COPY tools/msgpackr-extract-none ./tools/msgpackr-extract-none
RUN npm ci --omit=dev && npm cache clean --force

FROM deps AS build
RUN npm ci
COPY tsconfig.json ./
COPY tools ./tools
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/tools/msgpackr-extract-none ./tools/msgpackr-extract-none
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
RUN chmod +x dist/src/cli/main.js \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/chatterbox \
 && mkdir -p /data \
 && chown node:node /data
USER node
# 7000: the key-range HTTP API (with /metrics, /healthz, /readyz); 7100: the peer-to-peer port (TCP).
EXPOSE 7000 7100
VOLUME /data
# /healthz of a `ranges serve` whose API is on port 7000 (the image has no curl: Node's fetch asks).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["chatterbox"]
CMD ["--help"]
