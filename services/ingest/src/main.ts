import { JobSigner, createRedis, createService, logErrors } from '@ephemera/runtime';
import { AccountAllowList } from '@ephemera/schema';
import { createApp, createServer } from './app.js';
import { loadIngestConfig } from './config.js';
import { createIngestMetrics } from './metrics.js';
import { SignatureVerifier } from './signature-verifier.js';
import { WebhookQueue } from './webhook-queue.js';

const { config, logger, onStop, listen } = createService({ name: 'ingest', loadConfig: loadIngestConfig });

const redis = createRedis(config.REDIS_URL, 'producer');
logErrors(redis, logger, 'redis connection error');
const queue = new WebhookQueue(redis, config.QUEUE_PREFIX, config.ENQUEUE_TIMEOUT_MS, new JobSigner(config.QUEUE_SIGNING_KEY), logger);
const app = createApp({
  verifier: new SignatureVerifier(config.GITHUB_WEBHOOK_SECRET),
  queue,
  logger,
  metrics: createIngestMetrics(),
  maxInflightBytes: config.INGEST_MAX_INFLIGHT_BYTES,
  allowedAccounts: config.ALLOWED_ACCOUNTS ?? AccountAllowList.ANY,
});
const server = listen(createServer(app), config.INGEST_PORT, 'INGEST_PORT', () => {
  logger.info(
    {
      port: config.INGEST_PORT,
      secrets: config.GITHUB_WEBHOOK_SECRET.length,
      max_inflight_bytes: config.INGEST_MAX_INFLIGHT_BYTES,
      allowed_accounts: String(config.ALLOWED_ACCOUNTS ?? AccountAllowList.ANY),
    },
    `ingest listening on :${config.INGEST_PORT}`,
  );
});

onStop(async () => {
  // Stop accepting, let in-flight deliveries finish (their answers depend on Redis), then close the queue.
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await queue.close();
  await redis.quit().catch(() => undefined);
});
