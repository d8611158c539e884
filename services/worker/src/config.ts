import { readFileSync } from 'node:fs';
import { env, parseConfig } from '@ephemera/runtime';
import { z } from 'zod';

export const workerConfigSchema = z.object({
  DATABASE_URL: env.databaseUrl(),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  REDIS_URL: env.redisUrl(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  WORKER_PORT: env.port(3003),
  /** Jobs of each queue processed at once by this process. */
  WORKER_CONCURRENCY: env.positiveInt(8),
  /** How long a job's lock lasts without renewal: a killed worker's job is picked up again after about this long. */
  WORKER_LOCK_MS: env.positiveInt(30_000),
  /** On SIGTERM, running jobs get this long to finish before the process exits (BullMQ retries the rest). */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(25_000),

  PREVIEW_BASE_DOMAIN: z.string().min(1).default('preview.localhost'),
  /** When set, only pull requests carrying this label get a preview; removing it destroys the preview. */
  PREVIEW_LABEL: z.string().min(1).optional(),
  /** The label a maintainer adds to let a pull request from a fork run its preview. */
  PREVIEW_APPROVE_LABEL: z.string().min(1).default('preview-approved'),

  PROVISIONER: z.enum(['none']).default('none'),
  /** How long each simulated step of the `none` provisioner takes. */
  PROVISIONER_DELAY_MS: z.coerce.number().int().min(0).default(500),
  /** Attempts of a provisioning step before the environment is FAILED. */
  PROVISION_ATTEMPTS: env.positiveInt(5),

  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  /** PEM text, or the path of a PEM file. */
  GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  GITHUB_API_URL: z.url().default('https://api.github.com'),

  ENVIRONMENT_TTL_HOURS: z.coerce.number().positive().default(72),
  /** Minutes an environment may stay PROVISIONING, UPDATING or DESTROYING before cleanup retries its step. */
  STUCK_AFTER_MINUTES: z.coerce.number().positive().default(30),
  CLEANUP_INTERVAL_MS: env.positiveInt(5 * 60_000),

  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export interface GithubAppCredentials {
  appId: number;
  privateKey: string;
}

export function loadWorkerConfig(environment: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const config = parseConfig(workerConfigSchema, environment);
  if ((config.GITHUB_APP_ID === undefined) !== (config.GITHUB_APP_PRIVATE_KEY === undefined)) {
    throw new Error('GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY go together: set both for GitHub feedback, or neither');
  }
  return config;
}

/** The App's credentials, with a key given as a file path read now; undefined when feedback is off. */
export function githubCredentials(config: WorkerConfig): GithubAppCredentials | undefined {
  if (config.GITHUB_APP_ID === undefined || config.GITHUB_APP_PRIVATE_KEY === undefined) return undefined;
  const key = config.GITHUB_APP_PRIVATE_KEY.includes('-----BEGIN')
    ? config.GITHUB_APP_PRIVATE_KEY.replace(/\\n/g, '\n')
    : readFileSync(config.GITHUB_APP_PRIVATE_KEY, 'utf8');
  return { appId: config.GITHUB_APP_ID, privateKey: key };
}
