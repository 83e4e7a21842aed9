# syntax=docker/dockerfile:1
# One image recipe for the three Node apps of Parley, chosen with APP (and its default PORT):
#   docker build --build-arg APP=api    --build-arg PORT=3000 -t parley-api .     REST, the only writer of PostgreSQL;
#                                                                                 also runs the migrations:
#                                                                                 node --import tsx node_modules/@parley/db/src/migrate-cli.ts
#   docker build --build-arg APP=edge   --build-arg PORT=3001 -t parley-edge .    WebSocket server on /v1/ws
#   docker build --build-arg APP=worker --build-arg PORT=3100 -t parley-worker .  BullMQ jobs; /healthz, /readyz, /metrics
# (the web app has its own, apps/web/Dockerfile: a static build served by nginx). Build from the repository root.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
ARG APP
ENV CI=true
WORKDIR /repo
# Fails early, naming the argument, rather than deploying nothing.
RUN case "${APP}" in api|edge|worker) ;; *) echo "--build-arg APP=api|edge|worker is required (got '${APP}')" >&2; exit 1 ;; esac
# The pnpm version the repository pins in package.json ("packageManager").
COPY package.json ./
RUN npm install --global --no-fund --no-audit "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")"
# Production packages first, from the lockfile alone, so this layer survives source edits.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# Patches the lockfile names (pnpm patchedDependencies), applied on install.
COPY patches ./patches
RUN pnpm fetch --frozen-lockfile --prod --store-dir /pnpm/store
COPY . .
# Only this app's production dependencies; workspace packages are copied in as source (run through tsx).
RUN pnpm --filter "@parley/${APP}" deploy --legacy --prod --offline --store-dir /pnpm/store /out

FROM ${NODE_IMAGE} AS runtime
ARG PORT=3000
ENV NODE_ENV=production \
    PORT=${PORT}
WORKDIR /app
# Owned by root and read-only to the app's user: the process cannot rewrite its own code.
COPY --from=build /out ./
# The image's "node" user, numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE ${PORT}
# Slim images have no curl: ask Node itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives SIGTERM itself (no shell in between).
CMD ["node", "--import", "tsx", "src/main.ts"]
