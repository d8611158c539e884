# syntax=docker/dockerfile:1
# One Dockerfile for every service: `--target service --build-arg SERVICE=ingest|worker|query`, and
# `--target migrate` for the one-shot migration job (docker-compose uses these); `--target ephemera` is the one
# image of all three services and the migrations that the Kubernetes manifests run (ghcr.io/<owner>/ephemera),
# each container naming what it runs.

FROM node:20-bookworm-slim AS build
RUN npm install -g pnpm@12.4.2
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile && pnpm exec turbo run build
ARG SERVICE=ingest
# A self-contained copy of one service with its production dependencies only.
RUN pnpm --filter "@ephemera/${SERVICE}" deploy --prod /out \
 && pnpm --filter @ephemera/db deploy /migrate \
 && cp -r prisma /migrate/prisma

FROM build AS build-all
RUN for s in ingest worker query; do pnpm --filter "@ephemera/$s" deploy --prod "/ephemera/$s"; done \
 && cp -r /migrate /ephemera/migrate

FROM node:20-bookworm-slim AS service
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /out /app
USER node
CMD ["node", "dist/main.js"]

FROM node:20-bookworm-slim AS migrate
WORKDIR /app
COPY --from=build --chown=node:node /migrate /app
ENV PRISMA_DIR=/app/prisma
USER node
CMD ["node", "--import", "tsx", "src/migrate/cli.ts", "migrate"]

# All in one: `node ingest/dist/main.js`, `node worker/dist/main.js`, `node query/dist/main.js`, and the migrations
# from /app/migrate (`node --import tsx src/migrate/cli.ts migrate` there).
FROM node:20-bookworm-slim AS ephemera
ENV NODE_ENV=production
ENV PRISMA_DIR=/app/migrate/prisma
WORKDIR /app
COPY --from=build-all --chown=node:node /ephemera /app
USER node
CMD ["node", "ingest/dist/main.js"]
