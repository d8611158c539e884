import { Queue, type ConnectionOptions } from 'bullmq';
import type { Logger } from '@ephemera/runtime';
import { QUEUES, type QueueName } from '@ephemera/schema';

type QueueKey = keyof typeof QUEUES;

/** The queues the worker writes to (follow-up jobs) besides consuming them: one per entry of QUEUES. */
export type WorkerQueues = { readonly [K in QueueKey]: Queue } & {
  /** Every queue, in the order of QUEUES. */
  readonly all: readonly Queue[];
  byName(name: QueueName): Queue;
  close(): Promise<void>;
};

/** The queues, each logging its connection errors (BullMQ reconnects by itself; the log says why it had to). */
export function createWorkerQueues(connection: ConnectionOptions, prefix: string, logger?: Logger): WorkerQueues {
  const make = (name: string) => {
    const q = new Queue(name, { connection, prefix });
    q.on('error', (err: Error) => logger?.warn({ queue: name, err: { message: err.message } }, 'queue error'));
    return q;
  };
  const byKey = Object.fromEntries((Object.keys(QUEUES) as QueueKey[]).map((key) => [key, make(QUEUES[key])])) as Record<QueueKey, Queue>;
  const all = Object.values(byKey);
  const byName = new Map(all.map((q) => [q.name, q]));
  return {
    ...byKey,
    all,
    byName(name: QueueName) {
      const queue = byName.get(name);
      if (!queue) throw new Error(`no queue ${name}`);
      return queue;
    },
    async close() {
      await Promise.all(all.map((q) => q.close()));
    },
  };
}
