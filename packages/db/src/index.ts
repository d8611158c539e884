export { createPrismaClient, type DatabaseConfig } from './client.js';
export type { Db } from './db-client.js';
export { poolConfigFromUrl, redactUrl } from './database-url.js';
export { NotFoundError, ConflictError } from './errors.js';
export * from './users.js';
export * from './environments.js';
export * from './deployments.js';
export { Prisma, PrismaClient } from './generated/prisma/client.js';
export type { User, Environment, Deployment, ProcessedDelivery, PullRequestState } from './generated/prisma/client.js';
