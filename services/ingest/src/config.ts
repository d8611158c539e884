import { env, parseConfig } from '@ephemera/runtime';
import { z } from 'zod';

export const ingestConfigSchema = z.object({
  /** One secret, or several separated by commas while a secret is being rotated: any of them verifies. */
  GITHUB_WEBHOOK_SECRET: env.list().pipe(z.array(z.string()).min(1, 'must hold at least one secret')),
  INGEST_PORT: env.port(3001),
  REDIS_URL: env.redisUrl(),
  /** Prefix of every BullMQ key; services that share queues must agree on it. */
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  /** How long a delivery may wait for Redis before the answer is 503 (GitHub gives up after 10 s). */
  ENQUEUE_TIMEOUT_MS: env.positiveInt(3_000).pipe(z.number().max(8_000)),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

export function loadIngestConfig(environment: NodeJS.ProcessEnv = process.env): IngestConfig {
  return parseConfig(ingestConfigSchema, environment);
}
