import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import type { z } from 'zod';
import type { Logger } from '@ephemera/runtime';
import { ALL_QUEUES, QUEUE_JOB_NAMES, type QueueName } from '@ephemera/schema';

/** A job: its queue and name, the schema its payload must pass, and what runs it. */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  readonly queue: QueueName;
  readonly name: string;
  readonly schema: S;
  /** Runs the job with its parsed payload; the string is the job's result (kept by BullMQ, shown in the dashboard). */
  handle(data: z.infer<S>, job: Job, token?: string): Promise<string>;
}

/** Types a job definition: the handler receives exactly what the schema parses. */
export function defineJob<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}

/**
 * The job definitions by queue and name, checked when the worker starts: every job name a queue carries
 * (QUEUE_JOB_NAMES) has exactly one definition, and no definition answers to a name nobody produces. A build
 * missing a handler fails at start, naming it, rather than on the first job of that name.
 */
export class JobRegistry {
  private readonly byQueue = new Map<QueueName, Map<string, JobDefinition>>();

  constructor(definitions: readonly JobDefinition[], expected: Readonly<Record<QueueName, readonly string[]>> = QUEUE_JOB_NAMES) {
    const problems: string[] = [];
    for (const d of definitions) {
      const names = this.byQueue.get(d.queue) ?? new Map<string, JobDefinition>();
      this.byQueue.set(d.queue, names);
      if (names.has(d.name)) problems.push(`${d.queue}: ${d.name} has two handlers`);
      if (!(expected[d.queue] ?? []).includes(d.name)) problems.push(`${d.queue}: ${d.name} is not a job this queue carries`);
      names.set(d.name, d);
    }
    for (const queue of ALL_QUEUES) {
      for (const name of expected[queue] ?? []) if (!this.byQueue.get(queue)?.has(name)) problems.push(`${queue}: ${name} has no handler`);
    }
    if (problems.length > 0) throw new Error(`job registry is inconsistent: ${problems.join('; ')}`);
  }

  /**
   * The BullMQ processor of a queue: the job's payload is parsed with its definition's schema, and a job of an
   * unknown name or with a payload that does not parse fails at once (retrying cannot fix it), logged.
   */
  processor(queue: QueueName, logger: Logger): Processor {
    const names = this.byQueue.get(queue) ?? new Map<string, JobDefinition>();
    return async (job: Job, token?: string) => {
      const definition = names.get(job.name);
      if (!definition) throw new UnrecoverableError(`no handler for ${job.name} on ${queue}`);
      const parsed = definition.schema.safeParse(job.data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = `${issue?.path.join('.')}: ${issue?.message}`;
        logger.error({ queue, job_id: job.id, name: job.name, issue: where }, `invalid ${job.name} job`);
        throw new UnrecoverableError(`invalid ${job.name} job: ${where}`);
      }
      return definition.handle(parsed.data, job, token);
    };
  }
}
