export { createPrismaClient, type DatabaseConfig } from './client.js';
export type { Db } from './db-client.js';
export { poolConfigFromUrl, redactUrl } from './database-url.js';
export { NotFoundError, ConflictError } from './errors.js';
export * from './users.js';
export * from './environments.js';
export * from './deployments.js';
export * from './pull-requests.js';
export * from './environment-actions.js';
export * from './feedback-state.js';
export * from './deploy-gate.js';
export * from './maintenance.js';
export { Prisma, PrismaClient } from './generated/prisma/client.js';
export type { User, Environment, Deployment, ProcessedDelivery, PullRequestState } from './generated/prisma/client.js';
export * from './queries.js';
export {
  apiJsonFields,
  apiJsonSelectList,
  deploymentApiJson,
  environmentApiJson,
  type ApiJson,
  type ApiJsonField,
  type JsonKind,
} from './api-json-fields.js';
export * from './repository-identity.js';
