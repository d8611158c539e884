import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisReachable } from '@ephemera/runtime';
import {
  DELIVERY_DEDUP_TTL_SECONDS,
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
 * The webhooks queue as ingest sees it. A delivery is `queued` once its job is in Redis; the same delivery id
 * again is a `duplicate` and adds no job.
 *
 * Each job is added with BullMQ's deduplication keyed by the delivery id, with a time to live: BullMQ's add
 * script refuses the job while that key lives and sets it in the same script that stores the job, so "seen"
 * and "stored" cannot part (a failed add leaves neither), and the key outlives the job when retention trims it.
 * Which answer to give comes from a read of those keys sent just before the adds: the same connection delivers
 * commands to Redis in order, so it sees what was stored before this round and nothing of it.
 *
 * Deliveries that arrive together are stored together, the read and the adds sent at once: one round trip per
 * round of deliveries. A delivery id already in a round in flight waits for that round, so concurrent copies of
 * one delivery get one `queued` and the rest `duplicate`. (Copies racing each other through two ingest processes
 * may both be answered `queued`; BullMQ still stores one job.)
 */
export class WebhookQueue implements WebhookSink {
  readonly queue: Queue;
  private waiting: Pending[] = [];
  /** Delivery ids of the rounds in flight. */
  private storing = new Set<string>();
  private rounds = 0;
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly timeoutMs: number,
  ) {
    this.queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    // Connection errors surface through the calls that fail; without a listener they would crash the process.
    this.queue.on('error', () => undefined);
  }

  enqueue(job: WebhookJob): Promise<EnqueueOutcome> {
    return new Promise<EnqueueOutcome>((resolve, reject) => {
      const pending: Pending = { job, abandoned: false, resolve, reject };
      // Once the caller has answered 503 the delivery is abandoned: no later round sends it. One already sent
      // may still be stored, and a redelivery of it is then answered "duplicate", with its job in Redis.
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
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      const ids = batch.map((p) => p.job.deliveryId);
      for (const id of ids) this.storing.add(id);
      this.rounds++;
      this.store(batch)
        .catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          for (const id of ids) this.storing.delete(id);
          this.rounds--;
          this.schedule();
        });
      this.schedule();
    });
  }

  /** The next round: abandoned deliveries dropped, and a delivery id already being stored left for later. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const ids = new Set<string>();
    const later: Pending[] = [];
    for (const p of this.waiting) {
      if (p.abandoned) continue;
      const id = p.job.deliveryId;
      if (batch.length >= MAX_BATCH || this.storing.has(id) || ids.has(id)) later.push(p);
      else {
        batch.push(p);
        ids.add(id);
      }
    }
    this.waiting = later;
    return batch;
  }

  private async store(batch: Pending[]): Promise<void> {
    await this.connected(batch);
    const live = batch.filter((p) => !p.abandoned);
    if (live.length === 0) return;
    // Sent first, so Redis runs it before the adds below: a key it finds was set by an earlier round.
    const stored = this.redis.mget(live.map((p) => this.dedupKey(p.job.deliveryId)));
    // One add per job rather than addBulk: addBulk builds an ioredis pipeline, and ioredis copies every script
    // BullMQ defines onto each pipeline it creates, which cost more CPU than the writes it saves.
    const adds = live.map((p) =>
      this.queue.add(webhookJobName(p.job), p.job, {
        ...WEBHOOK_JOB_OPTIONS,
        jobId: p.job.deliveryId,
        deduplication: { id: p.job.deliveryId, ttl: DELIVERY_DEDUP_TTL_SECONDS * 1000 },
      }),
    );
    const [before, added] = await Promise.all([stored, Promise.allSettled(adds)]);
    live.forEach((p, i) => {
      const result = added[i]!;
      if (result.status === 'rejected') p.reject(result.reason);
      else p.resolve(before[i] === null ? 'queued' : 'duplicate');
    });
  }

  /** BullMQ's key for a deduplication id (`<prefix>:<queue>:de:<id>`). */
  private dedupKey(deliveryId: string): string {
    return `${this.queue.toKey('de')}:${deliveryId}`;
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
