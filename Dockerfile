# syntax=docker/dockerfile:1
# gpu-telemetry: one image, one process (streamers and collectors are worker
# threads). Build: `make docker-build`. Run on the baked sample:
#   docker run --rm -p 8080:8080 gpu-telemetry
# or on a DCGM export of your own, mounted read-only:
#   docker run --rm -p 8080:8080 -v "$PWD/metrics.csv:/data/metrics.csv:ro" \
#     -e CSV_FILE=/data/metrics.csv gpu-telemetry
# bookworm, not alpine: the uWebSockets.js binary is linked against glibc
# (bookworm's is 2.36).

# ---- build: full dev install, compile TypeScript to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native-free-ring/package.json native-free-ring/
# --ignore-scripts: nothing installed needs its script. uWebSockets.js ships
# prebuilt binaries, and the optional bufferutil/utf-8-validate (for the ws
# fallback, which start-up refuses anyway) would try to compile; the slim
# image has no compiler. It also skips swagger-ui-dist's analytics call.
RUN npm ci --ignore-scripts
# Sources after the install, so that editing them keeps the npm ci layer
# cached. .dockerignore keeps tests, perf and host build output out.
COPY . .
RUN npm run build

# ---- runtime: production dependencies and compiled JS only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native-free-ring/package.json native-free-ring/
# uWebSockets.js ships a binary per platform, arch and Node ABI (18 of them,
# 92 MB); keep the one this node loads, in the same layer so the rest never
# reaches the image. Start-up refuses to run without it (the fallback shim).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force \
  && node -e "const fs = require('fs'); const dir = 'node_modules/uWebSockets.js/binaries'; const keep = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'; if (!fs.existsSync(dir + '/' + keep)) throw new Error('uWebSockets.js has no binary ' + keep); for (const f of fs.readdirSync(dir)) if (f !== keep) fs.rmSync(dir + '/' + f);"
COPY --from=build /app/native-free-ring/dist/src native-free-ring/dist/src
COPY --from=build /app/dist/src dist/src
COPY data/sample.csv data/sample.csv
# The stream's default; point it at a mounted file to stream that instead.
ENV CSV_FILE=/app/data/sample.csv

# Files stay owned by root: the service only reads them (it also runs with a
# read-only root filesystem; the chart mounts an emptyDir at /tmp). Numeric
# user (node, 1000) so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# No --start-period: dockerfilelint rejects it, and 3 retries 15 s apart
# already give startup 45 s. Follows API_PORT and API_HOST (an any-address
# host is reached on loopback); no curl in the slim image, so node's fetch.
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD ["node", "-e", "const h = process.env.API_HOST || '0.0.0.0'; const host = h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? '[' + h + ']' : h; fetch('http://' + host + ':' + (process.env.API_PORT || 8080) + '/health', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no shell and no init: node is PID 1 and gets SIGTERM itself. It
# installs SIGTERM/SIGINT handlers (PID 1 has no default ones), drains the
# ring and exits within 10 s; it starts threads, not child processes, so
# there are no zombies to reap.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
