import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
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

/**
 * The webhooks queue as ingest sees it. A delivery is `queued` once its job is in Redis; the same delivery id
 * again is a `duplicate` and adds no job.
 *
 * BullMQ already refuses a second job with an existing id, but cannot say that it did, and forgets the id once
 * a finished job is trimmed away. So ingest keeps its own marker per delivery id, set only after the job is
 * stored: a failure between the two leaves a job without a marker (a redelivery is then queued again and the
 * worker's processed-deliveries table drops it), never a marker without a job.
 */
export class WebhookQueue implements WebhookSink {
  readonly queue: Queue;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly timeoutMs: number,
  ) {
    this.queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    // Connection errors surface through the calls that fail; without a listener they would crash the process.
    this.queue.on('error', () => undefined);
  }

  async enqueue(job: WebhookJob): Promise<EnqueueOutcome> {
    const abandoned = new AbortController();
    return withTimeout(this.store(job, abandoned.signal), this.timeoutMs, abandoned);
  }

  /**
   * Once the caller has answered 503 the delivery is abandoned: no later step runs, so a job is not quietly
   * stored after the sender was told to send again.
   */
  private async store(job: WebhookJob, abandoned: AbortSignal): Promise<EnqueueOutcome> {
    await this.connected(abandoned);
    abandoned.throwIfAborted();
    const marker = `${this.prefix}:delivery:${job.deliveryId}`;
    if ((await this.redis.exists(marker)) === 1) return 'duplicate';
    abandoned.throwIfAborted();
    await this.queue.add(webhookJobName(job), job, { ...WEBHOOK_JOB_OPTIONS, jobId: job.deliveryId });
    abandoned.throwIfAborted();
    const first = await this.redis.set(marker, job.receivedAt, 'EX', DELIVERY_MARKER_TTL_SECONDS, 'NX');
    return first === 'OK' ? 'queued' : 'duplicate';
  }

  /**
   * Commands fail at once while the connection is (re)connecting, since a producer keeps no offline queue. A
   * delivery that arrives in that window waits for the connection instead, within the enqueue bound.
   */
  private async connected(abandoned: AbortSignal): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'end') throw new Error('Redis connection is closed');
    await new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(poll);
        this.redis.off('ready', done);
        abandoned.removeEventListener('abort', done);
        resolve();
      };
      // The poll only guards against a missed event; the abort ends the wait when the caller gives up.
      const poll = setInterval(() => this.redis.status === 'ready' && done(), 50);
      this.redis.once('ready', done);
      abandoned.addEventListener('abort', done);
    });
  }

  async ready(): Promise<boolean> {
    try {
      return (await withTimeout(this.redis.ping(), 1_000)) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout?: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.abort();
      reject(new EnqueueTimeoutError(`Redis did not answer within ${ms} ms`));
    }, ms);
  });
  // The abandoned operation may still reject later; that rejection has no one left to tell.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
