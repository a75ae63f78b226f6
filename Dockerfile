# syntax=docker/dockerfile:1
# Build: install everything (the Prisma client is generated from
# prisma/schema.prisma), then drop the development dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild bcrypt esbuild
COPY . .
RUN npm run prisma:generate && npm run build && npm prune --omit=dev --ignore-scripts

# Run: the same files, owned by root and read-only to the server, which runs
# as the unprivileged `node` user; only DATA_DIR is writable.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
ENTRYPOINT ["scripts/docker-entrypoint.sh"]
