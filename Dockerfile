# syntax=docker/dockerfile:1
# One Dockerfile for every service: `--target service --build-arg SERVICE=ingest|worker|query`, and
# `--target migrate` for the one-shot migration job.

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
