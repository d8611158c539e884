import type { Job, JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { QueueName } from '@ephemera/schema';
import type { JobContext } from './job-context.js';

/** What a job's options and schedule are computed from: the parsed configuration, and the test-only timings. */
export type JobSettings = JobContext['config'] & { timing: JobContext['timing'] };

/**
 * A job, defined once: its queue and name, the schema its payload must pass, the options it is queued with (attempts,
 * backoff, job id, retention), its schedule when it is a repeatable sweep, whose it is, and what runs it.
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  readonly queue: QueueName;
  readonly name: string;
  readonly schema: S;
  /**
   * The options the worker queues it with (`enqueue`); absent for jobs only other services produce, whose options
   * live with their contract in @ephemera/schema.
   */
  readonly options?: (data: z.infer<S>, settings: JobSettings) => JobsOptions;
  /**
   * A repeatable sweep: the BullMQ job scheduler's id, and how often it runs (0: it does not). One job per interval
   * whichever worker takes it, not a timer per process.
   */
  readonly schedule?: { readonly id: string; every(settings: JobSettings, ctx: JobContext): number };
  /**
   * The GitHub account the job acts for, checked against ALLOWED_ACCOUNTS before the handler runs: a job of an
   * account outside it changes nothing. `null`: a job that acts for no one account, a sweep (which applies the list
   * to what it finds) or a teardown (which only removes); a function may also answer null when the account cannot be
   * told (the job's environment is gone, which its handler deals with).
   */
  readonly account: ((data: z.infer<S>, ctx: JobContext) => string | null | Promise<string | null>) | null;
  /** Runs the job with its parsed payload; the string is the job's result (kept by BullMQ, shown in the dashboard). */
  handle(data: z.infer<S>, ctx: JobContext, job: Job, token?: string): Promise<string>;
}

/** Types a job definition: the handler receives exactly what the schema parses. */
export function defineJob<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}
