import { env, parseConfig } from '@ephemera/runtime';
import { z } from 'zod';

export const queryConfigSchema = z.object({
  DATABASE_URL: env.databaseUrl(),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  REDIS_URL: env.redisUrl(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  QUERY_PORT: env.port(3002),
  /** Bearer tokens accepted by the API, comma-separated. None: the API is open (refused in production). */
  API_TOKENS: env.list().default([]),
  /** `none` opens the API in production on purpose. */
  API_AUTH: z.enum(['token', 'none']).optional(),
  ADMIN_USERNAME: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(1).optional(),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

export type QueryConfig = z.infer<typeof queryConfigSchema>;

/**
 * Parses the configuration and applies the access rules: production requires API tokens (unless API_AUTH=none
 * says otherwise on purpose) and dashboard credentials.
 */
export function loadQueryConfig(environment: NodeJS.ProcessEnv = process.env): QueryConfig {
  const config = parseConfig(queryConfigSchema, environment);
  const problems: string[] = [];
  if (config.NODE_ENV === 'production') {
    if (config.API_TOKENS.length === 0 && config.API_AUTH !== 'none') {
      problems.push('API_TOKENS is required in production (or set API_AUTH=none to serve the API without authentication)');
    }
    if (!config.ADMIN_USERNAME || !config.ADMIN_PASSWORD) {
      problems.push('ADMIN_USERNAME and ADMIN_PASSWORD are required in production (they protect /admin/queues)');
    }
  }
  if ((config.ADMIN_USERNAME === undefined) !== (config.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_USERNAME and ADMIN_PASSWORD go together');
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return config;
}
