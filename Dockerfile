# syntax=docker/dockerfile:1
#
# Intake production image.
#
#   deps       full dependency tree (dev included) for the TypeScript build
#   build      compiles src/ to dist/ and the web console to dist/console
#   prod-deps  `npm ci --omit=dev`: the production tree alone, from the same lockfile, with
#              better-sqlite3 (the embedded mode's SQLite binding) compiled for the target
#   runtime    slim Node LTS + tini + dist/ + production node_modules + openapi.yaml
#
# Build: docker build -t intake .      (multi-arch: docker buildx build --platform linux/arm64,linux/amd64 .)
# Bump Node with --build-arg NODE_MAJOR=24; the base stays a Debian slim image either way.

ARG NODE_MAJOR=22

# The dependency and build stages run on the build machine's own platform, even when the
# target is linux/arm64 for Fargate: their output is plain JavaScript. Only the production
# tree holds a native addon (better-sqlite3), so only it is installed on the target
# platform (under emulation in a cross build).
FROM --platform=$BUILDPLATFORM node:${NODE_MAJOR}-bookworm-slim AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Install scripts are skipped on purpose. The production tree holds three: a telemetry
# ping; classic-level's prebuild check (it loads its bundled prebuilt binary, linux-x64
# and linux-arm64 included, at run time without it); and better-sqlite3's, which fetches
# a prebuilt binary or compiles one. The build stage needs none of them (tsc reads types
# only); the prod-deps stage compiles better-sqlite3 itself, below. The dev tree adds
# esbuild's binary shortcut, which tsc does not need. A new dependency that really needs a
# compile step fails test/unit/dockerfile.test.ts until this is revisited.
FROM base AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts

# `npm run build` compiles src/ and bundles the web console (console/ → dist/console) with
# Vite; the image then carries only the built console files, none of its sources or tools.
FROM deps AS build
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY scripts/build-console.mjs ./scripts/build-console.mjs
COPY console ./console
COPY src ./src
RUN npm run build

# On the target platform: better-sqlite3 is compiled from its bundled SQLite source against
# the image's own Node headers (npm_config_nodedir), so the build downloads no binary and
# no headers and works the same for linux/amd64 and linux/arm64. The compilers stay here.
# snappy (Parquet export's codec) comes as one prebuilt package per platform, an optional
# dependency that npm picks for the platform it runs on: loading it proves it is the right one.
FROM node:${NODE_MAJOR}-bookworm-slim AS prod-deps
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_nodedir=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 --build-from-source \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && node -e "require('snappy').compressSync(Buffer.from('intake'))"

FROM node:${NODE_MAJOR}-bookworm-slim AS runtime

# tini is PID 1: it forwards SIGTERM/SIGINT to node and reaps zombies. The kernel gives
# PID 1 no default signal handling, so the drain on SIGTERM would depend on every
# runtime remembering `--init`; Fargate has no `--init` unless the task definition asks.
# npm, npx, corepack and yarn are removed: nothing runs them at run time, and they are
# most of what image scanners flag in a Node base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*

ENV NODE_ENV=production \
    INTAKE_STORAGE=aws \
    HOST=0.0.0.0 \
    PORT=8080

WORKDIR /app

# package.json comes along for "type": "module": without it Node would load dist/ as CommonJS.
# Files stay owned by root and read-only to the service user: the process cannot rewrite
# its own code or dependencies. In aws mode it writes nothing to disk.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
COPY docker/healthcheck.mjs ./docker/healthcheck.mjs

# The `node` user (uid 1000) that the official image already defines; numeric so that
# platforms checking runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000

EXPOSE 8080

# Liveness only (/healthz touches no storage); ECS defines the same check in infra/.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/docker/healthcheck.mjs"]

# SIGTERM starts Intake's graceful drain (INTAKE_SHUTDOWN_TIMEOUT_MS, default 25 s);
# give the container at least 30 s before SIGKILL (compose stop_grace_period, ECS stopTimeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main/server.js"]
