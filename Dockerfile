# syntax=docker/dockerfile:1
# gpu-telemetry: one image, one process (streamers and collectors are worker
# threads). Build: `make docker-build`; run: `docker run -p 8080:8080 gpu-telemetry`.

# ---- build: full dev install, compile TypeScript to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native-free-ring/package.json native-free-ring/
RUN npm ci
# Sources after the install, so that editing them keeps the npm ci layer cached.
# tsc -b compiles tests and perf too; only dist/src reaches the runtime stage.
COPY . .
RUN npm run build

# ---- runtime: production dependencies and compiled JS only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native-free-ring/package.json native-free-ring/
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/native-free-ring/dist/src native-free-ring/dist/src
COPY --from=build /app/dist/src dist/src
COPY data/ data/

# Files stay owned by root: the service only reads them.
USER node
EXPOSE 8080
# No --start-period: dockerfilelint rejects it, and 3 retries 15 s apart
# already give startup 45 s. API_PORT is the documented port override.
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.API_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself for a graceful drain.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
