# syntax=docker/dockerfile:1
# Gatehouse image. Node 24 runs the TypeScript sources directly (type stripping): no build output.

# Build stage: all dependencies, and a typecheck so an image is only built from code that passes.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto/ proto/
COPY src/ src/
RUN npm run typecheck

# Runtime stage: production dependencies and the app files only, run as the non-root node user.
FROM node:24-bookworm-slim AS runtime
# Memory of the service process: src/startup/serviceRuntime.ts says why (kept equal by its test).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/src/ src/
COPY proto/ proto/
COPY migrations/ migrations/
# Application files stay root-owned (read-only for the app); only DATA_DIR is writable.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 50051 8080 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-old-space-size=192", "--max-semi-space-size=8", "src/main.ts"]
