import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { JobSigner, createLogger, createRedis } from '@ephemera/runtime';
import { AccountAllowList } from '@ephemera/schema';
import { createApp } from '../src/app.js';
import { createIngestMetrics } from '../src/metrics.js';
import { SignatureVerifier } from '../src/signature-verifier.js';
import { WebhookQueue } from '../src/webhook-queue.js';

export const SECRET = 'it-is-a-secret-to-everybody';
/** The QUEUE_SIGNING_KEY of the tests' ingest apps. */
export const SIGNING_KEY = randomBytes(32).toString('hex');

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set (npm test starts a Redis server and sets it)');
  return url;
}

/** An ingest app on real Redis, under a key prefix of its own, with its log lines captured. */
export function buildIngest(
  options: { secrets?: string[]; url?: string; timeoutMs?: number; maxInflightBytes?: number; allowedAccounts?: string[] } = {},
) {
  const prefix = `test-${randomBytes(4).toString('hex')}`;
  const redis = createRedis(options.url ?? redisUrl(), 'producer');
  redis.on('error', () => undefined);
  const queue = new WebhookQueue(redis, prefix, options.timeoutMs ?? 2_000, new JobSigner(SIGNING_KEY));
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  const metrics = createIngestMetrics();
  const app = createApp({
    verifier: new SignatureVerifier(options.secrets ?? [SECRET]),
    queue,
    logger: createLogger({ service: 'ingest', level: 'info', destination }),
    metrics,
    ...(options.maxInflightBytes !== undefined ? { maxInflightBytes: options.maxInflightBytes } : {}),
    ...(options.allowedAccounts !== undefined ? { allowedAccounts: AccountAllowList.of(options.allowedAccounts) } : {}),
  });
  return {
    app,
    queue,
    redis,
    prefix,
    metrics,
    logLines: lines,
    rawLog: raw,
    async jobCount(): Promise<number> {
      const counts = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      await queue.queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
