import { readFileSync } from 'node:fs';
import { ConfigError, env, parseConfig } from '@ephemera/runtime';
import { allowedAccountsProblem, allowedAccountsSchema } from '@ephemera/schema';
import { z } from 'zod';
import { kubernetesConfigFields } from './kubernetes-config.js';
import { previewGateway, previewTlsMode } from './preview-routing.js';

export { DEFAULT_ADDON_IMAGES, PREVIEW_FENCE_DEFAULTS, isCidr } from './kubernetes-config.js';
export { previewGateway, previewTlsMode, type PreviewGatewaySettings, type PreviewTlsMode } from './preview-routing.js';

export const workerConfigSchema = z.object({
  DATABASE_URL: env.databaseUrl(),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  /**
   * Distinct statements each database connection keeps prepared, so the hot path is parsed and planned once per
   * connection rather than on every event; 0 for a connection pooler in transaction mode without prepared-statement
   * support.
   */
  DATABASE_PREPARED_STATEMENTS: z.coerce.number().int().min(0).max(10_000).default(200),
  REDIS_URL: env.redisUrl(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  /** Every job is verified with it (and signed with it when the worker queues one): a job without a valid signature is refused. */
  QUEUE_SIGNING_KEY: env.queueSigningKey(),
  /** The key before a rotation, still accepted when verifying (never used to sign). */
  QUEUE_SIGNING_KEY_PREVIOUS: env.queueSigningKey().optional(),
  /**
   * GitHub accounts (logins, any case) served, or `*` for every account; as ingest reads it. Every job and every pass
   * (resync, redelivery, sweeps) applies it. Unset: every account, refused in production.
   */
  ALLOWED_ACCOUNTS: env.list().pipe(allowedAccountsSchema).optional(),
  WORKER_PORT: env.port(3003),
  /** Jobs of each queue processed at once by this process. */
  WORKER_CONCURRENCY: env.positiveInt(8),
  /** How long a job's lock lasts without renewal: a killed worker's job is picked up again after about this long. */
  WORKER_LOCK_MS: env.positiveInt(30_000),
  /** How often a job may lose its worker (a crash, a kill) and be taken up again before it fails. */
  WORKER_MAX_STALLED_COUNT: env.positiveInt(3),
  /** How long a pull request's feedback waits for more of its changes before reporting (a burst ends in one report). */
  FEEDBACK_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** On SIGTERM, running jobs get this long to finish before the process exits (BullMQ retries the rest). */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(25_000),

  PREVIEW_BASE_DOMAIN: z.string().min(1).default('preview.localhost'),
  /** When set, only pull requests carrying this label get a preview; removing it destroys the preview. */
  PREVIEW_LABEL: z.string().min(1).optional(),
  /** The label a maintainer adds to let a pull request from a fork run its preview. */
  PREVIEW_APPROVE_LABEL: z.string().min(1).default('preview-approved'),
  /**
   * How a maintainer approves a fork's commit: `review` (an approving pull request review approves the commit it was
   * made on), `label` (PREVIEW_APPROVE_LABEL approves the head when it lands), or `both`.
   */
  FORK_APPROVAL: z.enum(['review', 'label', 'both']).default('both'),

  PROVISIONER: z.enum(['none', 'kubernetes']).default('none'),
  /** How long each simulated step of the `none` provisioner takes. */
  PROVISIONER_DELAY_MS: z.coerce.number().int().min(0).default(500),
  /** Attempts of a provisioning step before the environment is FAILED. */
  PROVISION_ATTEMPTS: env.positiveInt(5),
  /** Environments alive at once per repository (0: no limit); a pull request over it waits its turn. */
  MAX_ENVIRONMENTS_PER_REPO: z.coerce.number().int().min(0).default(0),
  PREVIEW_URL_SCHEME: z.enum(['https', 'http']).default('https'),

  // The Kubernetes provisioner (PROVISIONER=kubernetes).
  ...kubernetesConfigFields,

  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  /** PEM text, or the path of a PEM file. */
  GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  GITHUB_API_URL: z.url().default('https://api.github.com'),
  /** Every request to GitHub is abandoned after this long. */
  GITHUB_REQUEST_TIMEOUT_MS: env.positiveInt(10_000),
  /** How long GitHub's answer about a person's permission on a repository is reused. */
  PERMISSION_CACHE_SECONDS: z.coerce.number().int().min(0).default(60),

  /**
   * The query service's public address (its dashboard): when set, each pull request's comment links the
   * environment's page there.
   */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),

  ENVIRONMENT_TTL_HOURS: z.coerce.number().positive().default(72),
  /** Minutes an environment may stay PROVISIONING, UPDATING or DESTROYING before cleanup retries its step. */
  STUCK_AFTER_MINUTES: z.coerce.number().positive().default(30),
  CLEANUP_INTERVAL_MS: env.positiveInt(5 * 60_000),
  /** How often lost deliveries are asked for again (0: never). */
  REDELIVERY_INTERVAL_MS: z.coerce.number().int().min(0).default(5 * 60_000),
  /**
   * How often deployments waiting for their commit's checks (`deploy.wait_for`) are looked at again, so a check event
   * that never arrived delays a deploy by at most this long (0: never; check events and each deadline still act).
   */
  GATE_POLL_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /** How often the state is resynchronised with GitHub's pull requests and installations (0: never). */
  RESYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(30 * 60_000),
  /** Delivery ids are remembered this long (a redelivery older than this would apply again). */
  DELIVERY_RETENTION_DAYS: env.positiveInt(14),
  /** A deployment's logs keep their newest this many bytes. */
  DEPLOYMENT_LOG_MAX_BYTES: env.positiveInt(262_144),
  /** Environments destroyed longer ago than this are deleted with their deployments (0: kept). */
  DESTROYED_RETENTION_DAYS: z.coerce.number().int().min(0).default(90),

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
  const accounts = allowedAccountsProblem(config);
  if (accounts) throw new ConfigError([accounts]);
  if ((config.GITHUB_APP_ID === undefined) !== (config.GITHUB_APP_PRIVATE_KEY === undefined)) {
    throw new Error('GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY go together: set both for GitHub feedback, or neither');
  }
  if (config.PROVISIONER === 'kubernetes' && config.GITHUB_APP_ID === undefined) {
    throw new Error('PROVISIONER=kubernetes reads each repository\'s .ephemera.yml with the GitHub App: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY');
  }
  if (config.PREVIEW_SECRETS_ALLOWED.length > 0 && !config.PREVIEW_SECRETS_NAMESPACE) {
    throw new Error('PREVIEW_SECRETS_ALLOWED needs PREVIEW_SECRETS_NAMESPACE, the namespace the allowed Secrets are copied from');
  }
  previewTlsMode(config);
  previewGateway(config, environment);
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

/** Where GitHub shows pull requests, from its API address (GitHub Enterprise Server: https://HOST/api/v3). */
export function githubWebUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com') return 'https://github.com';
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/api\/v3\/?$/, '').replace(/\/$/, '')}`;
}
