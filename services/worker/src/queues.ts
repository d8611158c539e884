import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { QUEUES } from '@ephemera/schema';

/** The queues the worker writes to (follow-up jobs) besides consuming them. */
export interface WorkerQueues {
  webhooks: Queue;
  provisioning: Queue;
  feedback: Queue;
  cleanup: Queue;
  close(): Promise<void>;
}

export function createWorkerQueues(connection: ConnectionOptions, prefix: string): WorkerQueues {
  const make = (name: string) => {
    const q = new Queue(name, { connection, prefix });
    q.on('error', () => undefined);
    return q;
  };
  const queues = {
    webhooks: make(QUEUES.webhooks),
    provisioning: make(QUEUES.provisioning),
    feedback: make(QUEUES.feedback),
    cleanup: make(QUEUES.cleanup),
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

export const FEEDBACK_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3600, count: 2_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};
