import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { RenewingQueue, logErrors, recordSettledDelivery, redisReachable, type JobSigner, type Logger, type SettledOutcome } from '@ephemera/runtime';
import {
  DELIVERY_DEDUP_TTL_SECONDS,
  QUEUES,
  webhookJobOptions,
  webhookJobName,
  type WebhookJob,
} from '@ephemera/schema';
import { dedupKey, defineRemoveIfFailed, removeIfFailed } from './remove-if-failed.js';

/**
 * `requeued`: the delivery id was seen before and its job had failed for good; the failed job was replaced by a
 * fresh one from this delivery (answered `queued` to the sender).
 */
type EnqueueOutcome = 'queued' | 'duplicate' | 'requeued';

/** What the HTTP layer needs of the queue; tests and benchmarks may pass their own. */
export interface WebhookSink {
  enqueue(job: WebhookJob): Promise<EnqueueOutcome>;
  /** Records a delivery answered without a job, so the redelivery pass never asks GitHub for it again. */
  settle(deliveryId: string, outcome: SettledOutcome): Promise<void>;
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
 * A delivery id seen before whose job has failed for good (every attempt used, or an unrecoverable error) is the
 * exception: its redelivery replaces the failed job with a fresh one, from the new payload, under the same id,
 * and is answered `queued` (outcome `requeued`). That costs one more round trip, made only for the deliveries
 * already found to be duplicates: the failed job and its deduplication key are removed in one script that checks
 * the job is in the failed set, then the job is added as any other. Completed, waiting, active and delayed jobs
 * (a job retrying after a failed attempt is delayed), and ids remembered after retention trimmed their jobs, stay
 * `duplicate`.
 *
 * Deliveries that arrive together are stored together, the read and the adds sent at once: one round trip per
 * round of deliveries. A delivery id already in a round in flight waits for that round, so concurrent copies of
 * one delivery get one `queued` and the rest `duplicate`. (Copies racing each other through two ingest processes
 * may both be answered `queued`; BullMQ still stores one job.)
 */
export class WebhookQueue implements WebhookSink {
  private readonly queues: RenewingQueue<Queue>;
  private waiting: Pending[] = [];
  /** Delivery ids of the rounds in flight. */
  private storing = new Set<string>();
  private rounds = 0;
  private scheduled = false;

  /**
   * `logger` gets the queue's `error` events (connection trouble). Without one (tests) they are dropped, and
   * show only as the calls that fail.
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly timeoutMs: number,
    /** Signs every job (QUEUE_SIGNING_KEY): the worker refuses one without a valid signature. */
    private readonly signer: JobSigner,
    logger?: Logger,
  ) {
    defineRemoveIfFailed(redis);
    this.queues = new RenewingQueue(
      () => {
        const queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
        // Some listener is needed either way: an `error` event nobody listens to is thrown, and crashes the process.
        if (logger) logErrors(queue, logger.child({ component: 'queue', queue: queue.name }), 'queue error');
        else queue.on('error', () => undefined);
        return queue;
      },
      (err) => logger?.warn({ err: { message: err.message } }, 'the queue could not check Redis when it started; made it again'),
    );
  }

  /** The BullMQ queue deliveries are added to. */
  get queue(): Queue {
    return this.queues.queue;
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
    await this.connected(() => batch.every((p) => p.abandoned));
    // A queue whose start-up check failed is replaced; this round is then refused (503) with nothing stored. Awaited
    // before the live deliveries are picked: nothing may be abandoned (answered 503) between the pick and the adds.
    await this.queues.usable();
    const live = batch.filter((p) => !p.abandoned);
    if (live.length === 0) return;
    // Sent first, so Redis runs it before the adds below: a key it finds was set by an earlier round.
    const stored = this.redis.mget(live.map((p) => dedupKey(this.queue, p.job.deliveryId)));
    // One add per job rather than addBulk: addBulk builds an ioredis pipeline, and ioredis copies every script
    // BullMQ defines onto each pipeline it creates, which cost more CPU than the writes it saves.
    const adds = live.map((p) => this.add(p.job));
    const [before, added] = await Promise.all([stored, Promise.allSettled(adds)]);
    const seen: Pending[] = [];
    live.forEach((p, i) => {
      const result = added[i]!;
      if (result.status === 'rejected') p.reject(result.reason);
      else if (before[i] === null) p.resolve('queued');
      else seen.push(p);
    });
    if (seen.length > 0) await this.requeueFailed(seen);
  }

  private add(job: WebhookJob) {
    const name = webhookJobName(job);
    return this.queue.add(name, this.signer.sign(QUEUES.webhooks, name, job), {
      ...webhookJobOptions(job),
      jobId: job.deliveryId,
      deduplication: { id: job.deliveryId, ttl: DELIVERY_DEDUP_TTL_SECONDS * 1000 },
    });
  }

  /**
   * Deliveries whose id was already known: those whose job is in the failed set get a fresh job (`requeued`),
   * the rest are `duplicate`. The ids are still in {@link storing}, so no copy from this process runs alongside.
   * Should Redis fail between the removal and the add, the delivery is answered 503 and holds no job: its next
   * redelivery is queued as a new delivery would be.
   */
  private async requeueFailed(seen: Pending[]): Promise<void> {
    const removed = await Promise.allSettled(seen.map((p) => removeIfFailed(this.redis, this.queue, p.job.deliveryId)));
    await Promise.all(
      seen.map(async (p, i) => {
        const result = removed[i]!;
        if (result.status === 'rejected') return p.reject(result.reason);
        if (result.value !== 1) return p.resolve('duplicate');
        try {
          await this.add(p.job);
          p.resolve('requeued');
        } catch (err) {
          p.reject(err);
        }
      }),
    );
  }

  /**
   * Commands fail at once while the connection is (re)connecting, since a producer keeps no offline queue.
   * Deliveries that arrive in that window wait for the connection instead, within their enqueue bound.
   */
  private async connected(givenUp: () => boolean): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'end') throw new Error('Redis connection is closed');
    await new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(poll);
        this.redis.off('ready', done);
        resolve();
      };
      // Polling also ends the wait once the waiter (every delivery of a batch) has been given up on.
      const poll = setInterval(() => (this.redis.status === 'ready' || givenUp()) && done(), 50);
      this.redis.once('ready', done);
    });
  }

  /** Within the enqueue bound, as a delivery's job: waits for a connection being made, gives up on a closed one. */
  async settle(deliveryId: string, outcome: SettledOutcome): Promise<void> {
    let abandoned = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connected(() => abandoned).then(() => recordSettledDelivery(this.redis, this.prefix, deliveryId, outcome, DELIVERY_DEDUP_TTL_SECONDS)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            abandoned = true;
            reject(new EnqueueTimeoutError(`Redis did not answer within ${this.timeoutMs} ms`));
          }, this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  ready(): Promise<boolean> {
    return redisReachable(this.redis, 1_000);
  }

  async close(): Promise<void> {
    await this.queues.close();
  }
}
