import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisReachable } from '@ephemera/runtime';
import {
  DELIVERY_MARKER_TTL_SECONDS,
  QUEUES,
  WEBHOOK_JOB_OPTIONS,
  webhookJobName,
  type WebhookJob,
} from '@ephemera/schema';

export type EnqueueOutcome = 'queued' | 'duplicate';

/** What the HTTP layer needs of the queue; tests and benchmarks may pass their own. */
export interface WebhookSink {
  enqueue(job: WebhookJob): Promise<EnqueueOutcome>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export class EnqueueTimeoutError extends Error {
  override readonly name = 'EnqueueTimeoutError';
}

interface Pending {
  job: WebhookJob;
  abandoned: boolean;
  resolve(outcome: EnqueueOutcome): void;
  reject(err: unknown): void;
}

/** Deliveries stored per round of Redis calls at most. */
const MAX_BATCH = 200;
/** Rounds in flight at once; while they run, new deliveries gather into the next round. */
const MAX_ROUNDS_IN_FLIGHT = 2;

/**
 * `SET key value EX ttl NX` for each key, in one command; returns 1 per key it created, 0 per key that existed
 * (another ingest process stored the same delivery in the meantime). Redis caches the compiled script.
 */
const MARK_DELIVERIES = `
local created = {}
for i, key in ipairs(KEYS) do
  created[i] = redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1], 'NX') and 1 or 0
end
return created`;

/**
 * The webhooks queue as ingest sees it. A delivery is `queued` once its job is in Redis; the same delivery id
 * again is a `duplicate` and adds no job.
 *
 * BullMQ already refuses a second job with an existing id, but cannot say that it did, and forgets the id once
 * a finished job is trimmed away. So ingest keeps its own marker per delivery id, set only after the job is
 * stored: a failure between the two leaves a job without a marker (a redelivery is then queued again and the
 * worker's processed-deliveries table drops it), never a marker without a job.
 *
 * Deliveries that arrive together are stored together: one MGET of markers, one `addBulk`, one script
 * call writing the markers per round, instead of three round trips per delivery.
 */
export class WebhookQueue implements WebhookSink {
  readonly queue: Queue;
  private waiting: Pending[] = [];
  private rounds = 0;
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly timeoutMs: number,
  ) {
    this.queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    // Connection errors surface through the calls that fail; without a listener they would crash the process.
    this.queue.on('error', () => undefined);
  }

  enqueue(job: WebhookJob): Promise<EnqueueOutcome> {
    return new Promise<EnqueueOutcome>((resolve, reject) => {
      const pending: Pending = { job, abandoned: false, resolve, reject };
      // Once the caller has answered 503 the delivery is abandoned: no later step stores it, so a job is not
      // quietly added after the sender was told to send again.
      const timer = setTimeout(() => {
        pending.abandoned = true;
        reject(new EnqueueTimeoutError(`Redis did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      pending.resolve = (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      pending.reject = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      this.waiting.push(pending);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.rounds >= MAX_ROUNDS_IN_FLIGHT || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.waiting.splice(0, MAX_BATCH);
      if (batch.length === 0) return;
      this.rounds++;
      this.store(batch)
        .catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          this.rounds--;
          this.schedule();
        });
      this.schedule();
    });
  }

  private async store(batch: Pending[]): Promise<void> {
    await this.connected(batch);
    const live = () => batch.filter((p) => !p.abandoned);

    const marker = (p: Pending) => `${this.prefix}:delivery:${p.job.deliveryId}`;
    const checks = live();
    if (checks.length === 0) return;
    // One MGET rather than a pipeline: ioredis copies every BullMQ script onto each pipeline it creates, which
    // cost more CPU than the commands themselves at webhook rates.
    const seen = await this.redis.mget(checks.map(marker));
    const fresh: Pending[] = [];
    checks.forEach((p, i) => {
      if (seen[i] !== null) p.resolve('duplicate');
      else fresh.push(p);
    });

    const toAdd = fresh.filter((p) => !p.abandoned);
    if (toAdd.length === 0) return;
    await this.queue.addBulk(
      toAdd.map((p) => ({
        name: webhookJobName(p.job),
        data: p.job,
        opts: { ...WEBHOOK_JOB_OPTIONS, jobId: p.job.deliveryId },
      })),
    );

    const toMark = toAdd.filter((p) => !p.abandoned);
    if (toMark.length === 0) return;
    const created = (await this.redis.eval(
      MARK_DELIVERIES,
      toMark.length,
      ...toMark.map(marker),
      DELIVERY_MARKER_TTL_SECONDS,
      ...toMark.map((p) => p.job.receivedAt),
    )) as number[];
    toMark.forEach((p, i) => p.resolve(created[i] === 1 ? 'queued' : 'duplicate'));
  }

  /**
   * Commands fail at once while the connection is (re)connecting, since a producer keeps no offline queue.
   * Deliveries that arrive in that window wait for the connection instead, within their enqueue bound.
   */
  private async connected(batch: Pending[]): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'end') throw new Error('Redis connection is closed');
    await new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(poll);
        this.redis.off('ready', done);
        resolve();
      };
      // Polling also ends the wait once every delivery of the batch has been given up on.
      const poll = setInterval(() => (this.redis.status === 'ready' || batch.every((p) => p.abandoned)) && done(), 50);
      this.redis.once('ready', done);
    });
  }

  ready(): Promise<boolean> {
    return redisReachable(this.redis, 1_000);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
