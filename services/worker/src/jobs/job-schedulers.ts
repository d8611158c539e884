import { QUEUES, type QueueName } from '@ephemera/schema';
import type { JobProducer } from './enqueue.js';
import type { JobContext } from './job-context.js';
import type { JobDefinition } from './job-definition.js';

/**
 * Schedulers of earlier versions, from when the redelivery and resync passes ran on the clean-up queue (they have
 * their own queue now, QUEUES.githubSync): removed, so an upgraded installation does not run those passes twice.
 */
const RETIRED_SCHEDULERS: ReadonlyArray<readonly [QueueName, string]> = [
  [QUEUES.cleanup, 'redelivery'],
  [QUEUES.cleanup, 'resync'],
];

/**
 * Makes (or removes, at an interval of 0) the BullMQ job scheduler of every job with a schedule: one job per
 * interval whichever worker takes it, not a timer per process. They live in Redis, so they are made again whenever
 * the connection is (re)established (see the runtime): a Redis that lost its data (restarted without its
 * append-only file, or flushed) would otherwise stop every sweep for good.
 */
export async function upsertJobSchedulers(definitions: readonly JobDefinition[], producer: JobProducer, ctx: JobContext): Promise<void> {
  for (const [queue, id] of RETIRED_SCHEDULERS) await producer.queues.byName(queue).removeJobScheduler(id);
  for (const def of definitions) {
    if (!def.schedule) continue;
    const queue = producer.queues.byName(def.queue);
    const every = def.schedule.every(producer.settings, ctx);
    // The template's data is signed: each job the scheduler makes carries it, and is verified like any other.
    const data = producer.signer.sign(def.queue, def.name, {});
    if (every > 0) await queue.upsertJobScheduler(def.schedule.id, { every }, { name: def.name, data, opts: def.options?.({}, producer.settings) ?? {} });
    else await queue.removeJobScheduler(def.schedule.id);
  }
}
