import { generateKeyPairSync, randomBytes } from 'node:crypto';

export const SECRET = 'fault-suite-secret';
/** The bearer token the query service accepts (API_TOKENS), sent with the suite's API reads. */
export const QUERY_API_TOKEN = 'fault-suite-query-token';
/**
 * ingest's INGEST_MAX_INFLIGHT_BYTES: small, so that the hostile-input scenario's concurrent large bodies reach
 * it, and still far above what the other scenarios hold at once (20 concurrent deliveries of about 24 KB).
 */
export const INGEST_INFLIGHT_LIMIT = 3 * 1024 * 1024;
/** ALLOWED_ACCOUNTS of ingest and the workers: the owner of every generated pull request (GitHub's example repository). */
export const ALLOWED_ACCOUNT = 'Codertocat';
/** The workers' GITHUB_APP_ID (the fake GitHub's App). */
const GITHUB_APP_ID = 42;
/**
 * The workers' REDELIVERY_INTERVAL_MS and RESYNC_INTERVAL_MS. Both passes are BullMQ job schedulers shared by every
 * worker (the last worker to start sets the interval), so every worker gets the same short ones for the whole run.
 * In the scenarios that send nothing through the fake GitHub they find nothing to do: its delivery log is empty
 * and it lists no installation until `closed-dropped` lists one of its own repository.
 */
const REDELIVERY_INTERVAL_MS = 3_000;
export const RESYNC_INTERVAL_MS = 3_000;

export type ServiceName = 'ingest' | 'worker' | 'query';

/**
 * The environment of each of the stack's services: the settings they share, and what each is given besides. The
 * workers hold App credentials (a new key) for the fake GitHub at `githubUrl`.
 */
export function serviceEnvironments(urls: { database: string; redis: string; github: string }): Record<ServiceName, Record<string, string | undefined>> {
  const shared = {
    PATH: process.env.PATH,
    DATABASE_URL: urls.database,
    REDIS_URL: urls.redis,
    QUEUE_PREFIX: 'ephemera',
    GITHUB_WEBHOOK_SECRET: SECRET,
    // Every service signs the jobs it queues with it, and the workers refuse any other (`npm test` gives one).
    QUEUE_SIGNING_KEY: process.env.QUEUE_SIGNING_KEY ?? randomBytes(32).toString('hex'),
    WORKER_LOCK_MS: '3000',
    PROVISIONER_DELAY_MS: '50',
    LOG_LEVEL: 'error',
    NODE_ENV: 'development',
  };
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ingest: { ...shared, INGEST_MAX_INFLIGHT_BYTES: String(INGEST_INFLIGHT_LIMIT), ALLOWED_ACCOUNTS: ALLOWED_ACCOUNT },
    // The query service refuses to start without API tokens (or API_AUTH=none); the suite reads with this one.
    query: { ...shared, API_TOKENS: QUERY_API_TOKEN },
    worker: {
      ...shared,
      ALLOWED_ACCOUNTS: ALLOWED_ACCOUNT,
      GITHUB_APP_ID: String(GITHUB_APP_ID),
      GITHUB_APP_PRIVATE_KEY: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      GITHUB_API_URL: urls.github,
      REDELIVERY_INTERVAL_MS: String(REDELIVERY_INTERVAL_MS),
      RESYNC_INTERVAL_MS: String(RESYNC_INTERVAL_MS),
    },
  };
}
