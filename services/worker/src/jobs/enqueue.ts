import type { Job, JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { JobSigner } from '@ephemera/runtime';
import type { WorkerQueues } from '../queues.js';
import type { JobDefinition, JobSettings } from './job-definition.js';

/** Where the worker's own jobs go: its queues, the key that signs them, and what their options are computed from. */
export interface JobProducer {
  queues: WorkerQueues;
  /** Signs every job queued here (QUEUE_SIGNING_KEY), as every producer does: the worker runs no other. */
  signer: JobSigner;
  settings: JobSettings;
}

/**
 * Queues a job through its definition: the payload is parsed with the job's schema (a bad payload throws here, where
 * it is made, not in the worker that takes it), signed, and added with the job's options. `variant` adjusts them for
 * one use of the job (another job id, a delay), defined next to the job's own.
 *
 * @example await enqueue(producer, deployJob, { environmentId, deploymentId });
 */
export async function enqueue<S extends z.ZodType>(producer: JobProducer, def: JobDefinition<S>, payload: z.input<S>, variant: JobsOptions = {}): Promise<Job> {
  const data = def.schema.parse(payload) as object;
  const queue = producer.queues.byName(def.queue);
  const options = { ...def.options?.(data as z.infer<S>, producer.settings), ...variant };
  return queue.add(def.name, producer.signer.sign(def.queue, def.name, data), options);
}
