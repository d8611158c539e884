import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Logger } from '@ephemera/runtime';
import { QUEUES } from '@ephemera/schema';

/** The queues the worker writes to (follow-up jobs) besides consuming them. */
export interface WorkerQueues {
  webhooks: Queue;
  provisioning: Queue;
  feedback: Queue;
  cleanup: Queue;
  actions: Queue;
  close(): Promise<void>;
}

/** The queues, each logging its connection errors (BullMQ reconnects by itself; the log says why it had to). */
export function createWorkerQueues(connection: ConnectionOptions, prefix: string, logger?: Logger): WorkerQueues {
  const make = (name: string) => {
    const q = new Queue(name, { connection, prefix });
    q.on('error', (err: Error) => logger?.warn({ queue: name, err: { message: err.message } }, 'queue error'));
    return q;
  };
  const queues = {
    webhooks: make(QUEUES.webhooks),
    provisioning: make(QUEUES.provisioning),
    feedback: make(QUEUES.feedback),
    cleanup: make(QUEUES.cleanup),
    actions: make(QUEUES.actions),
  };
  return {
    ...queues,
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}

export function provisioningJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { age: 24 * 3600, count: 5_000 },
    removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
  };
}

/**
 * A feedback job, deduplicated per pull request: while one waits, adds are absorbed by it; while one runs, one more
 * is kept to follow it (`keepLastIfActive`). The delay lets the steps of one change (the event, the deploy's start
 * and end) arrive before it reports.
 */
export function feedbackJobOptions(dedupId: string, delayMs: number): JobsOptions {
  return {
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3600, count: 2_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    delay: delayMs,
    deduplication: { id: dedupId, keepLastIfActive: true },
  };
}
