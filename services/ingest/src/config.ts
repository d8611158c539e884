import { ConfigError, env, parseConfig } from '@ephemera/runtime';
import { allowedAccountsProblem, allowedAccountsSchema } from '@ephemera/schema';
import { z } from 'zod';

/** The secret `npm start` gives ingest when GITHUB_WEBHOOK_SECRET is not set (packages/devstack). */
export const DEVELOPMENT_WEBHOOK_SECRET = 'ephemera-development-secret';
/** The shortest webhook secret ingest accepts in production. */
const MIN_PRODUCTION_SECRET_LENGTH = 20;
/** Default of INGEST_MAX_INFLIGHT_BYTES: 64 MiB of request bodies read or held at once. */
export const DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;

export const ingestConfigSchema = z.object({
  /** One secret, or several separated by commas while a secret is being rotated: any of them verifies. */
  GITHUB_WEBHOOK_SECRET: env.list().pipe(z.array(z.string()).min(1, 'must hold at least one secret')),
  INGEST_PORT: env.port(3001),
  REDIS_URL: env.redisUrl(),
  /** Prefix of every BullMQ key; services that share queues must agree on it. */
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  /** How long a delivery may wait for Redis before the answer is 503 (GitHub gives up after 10 s). */
  ENQUEUE_TIMEOUT_MS: env.positiveInt(3_000).pipe(z.number().max(8_000)),
  /**
   * Bytes of request bodies read or held at once, across all requests, before their signatures are checked;
   * a request that would go over is answered 503 with Retry-After.
   */
  INGEST_MAX_INFLIGHT_BYTES: env.positiveInt(DEFAULT_MAX_INFLIGHT_BYTES),
  /**
   * GitHub accounts (logins, any case) whose deliveries are acted on, or `*` for every account; unset: every
   * account's, refused in production.
   */
  ALLOWED_ACCOUNTS: env.list().pipe(allowedAccountsSchema).optional(),
  /** Signs every job ingest stores, so the worker can tell it from one written to Redis by anyone else. */
  QUEUE_SIGNING_KEY: env.queueSigningKey(),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

type IngestConfig = z.infer<typeof ingestConfigSchema>;

/**
 * Parses the configuration and applies the production rules: every webhook secret is at least
 * {@link MIN_PRODUCTION_SECRET_LENGTH} characters and is not the development default, which anyone can read
 * in this repository, and ALLOWED_ACCOUNTS is set. Other modes accept any secret, and every account when
 * ALLOWED_ACCOUNTS is unset.
 */
export function loadIngestConfig(environment: NodeJS.ProcessEnv = process.env): IngestConfig {
  const config = parseConfig(ingestConfigSchema, environment);
  if (config.NODE_ENV === 'production') {
    const secrets = config.GITHUB_WEBHOOK_SECRET;
    // Which secret, by position, never its value: the message ends up in logs.
    const which = (i: number) => (secrets.length === 1 ? 'the secret' : `secret ${i + 1} of ${secrets.length}`);
    const problems = secrets.flatMap((secret, i) => {
      if (secret === DEVELOPMENT_WEBHOOK_SECRET) {
        return [
          `GITHUB_WEBHOOK_SECRET: ${which(i)} is the development default (${DEVELOPMENT_WEBHOOK_SECRET}), which is public; in production use the GitHub App's own webhook secret (a long random string, at least ${MIN_PRODUCTION_SECRET_LENGTH} characters)`,
        ];
      }
      if (secret.length < MIN_PRODUCTION_SECRET_LENGTH) {
        return [
          `GITHUB_WEBHOOK_SECRET: ${which(i)} is ${secret.length} characters; in production every webhook secret must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters (a long random string)`,
        ];
      }
      return [];
    });
    const accounts = allowedAccountsProblem(config);
    if (accounts) problems.push(accounts);
    if (problems.length > 0) throw new ConfigError(problems);
  }
  return config;
}
