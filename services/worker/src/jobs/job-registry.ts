import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import type { Counter } from 'prom-client';
import type { JobSigner } from '@ephemera/runtime';
import { ALL_QUEUES, QUEUE_JOB_NAMES, type AccountAllowList, type QueueName } from '@ephemera/schema';
import type { JobContext } from './job-context.js';
import type { JobDefinition } from './job-definition.js';

export { defineJob, type JobDefinition } from './job-definition.js';

/** What every job passes before its handler runs: proof of its origin, and ALLOWED_ACCOUNTS. */
export interface JobAdmission {
  /** Verifies each job's signature (QUEUE_SIGNING_KEY, or QUEUE_SIGNING_KEY_PREVIOUS). */
  signer: JobSigner;
  accounts: AccountAllowList;
  /** `ephemera_jobs_rejected_total`. */
  rejected: Counter<'reason' | 'queue'>;
}

/** A job's result when its account is outside ALLOWED_ACCOUNTS (counted as that outcome). */
export const NOT_ALLOWED = 'not_allowed';

/**
 * The job definitions (jobs/index.ts) by queue and name, checked when the worker starts: every job name a queue carries
 * (QUEUE_JOB_NAMES) has exactly one definition, and no definition answers to a name nobody produces. A build
 * missing a handler fails at start, naming it, rather than on the first job of that name.
 */
export class JobRegistry {
  private readonly byQueue = new Map<QueueName, Map<string, JobDefinition>>();

  constructor(
    definitions: readonly JobDefinition[],
    private readonly admission: JobAdmission,
    expected: Readonly<Record<QueueName, readonly string[]>> = QUEUE_JOB_NAMES,
  ) {
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
   * The BullMQ processor of a queue (what its Worker runs), timing and counting every job by its outcome
   * (`worker_job_duration_seconds`, `worker_jobs_total`).
   */
  processor(queue: QueueName, ctx: JobContext): Processor {
    const run = this.admitted(queue, ctx);
    const { jobs, jobSeconds } = ctx.metrics;
    return async (job: Job, token?: string) => {
      const stop = jobSeconds.startTimer({ queue });
      try {
        const result = await run(job, token);
        jobs.inc({ queue, name: job.name, outcome: /^(duplicate|stale)$/.test(result) || result === NOT_ALLOWED ? result : 'completed' });
        return result;
      } catch (err) {
        jobs.inc({ queue, name: job.name, outcome: 'failed' });
        throw err;
      } finally {
        stop();
      }
    };
  }

  /**
   * The one place every job passes before anything runs. A job without a valid
   * signature is refused: it may have been written to Redis by anyone, and is trusted with nothing (logged by its
   * queue, name and id, never its payload; counted). Then the payload is parsed with its definition's schema; a job
   * of an unknown name or with a payload that does not parse fails at once (retrying cannot fix either), logged.
   * Finally a job of an account outside ALLOWED_ACCOUNTS completes without its handler, having changed nothing.
   */
  private admitted(queue: QueueName, ctx: JobContext): (job: Job, token?: string) => Promise<string> {
    const { logger } = ctx;
    const names = this.byQueue.get(queue) ?? new Map<string, JobDefinition>();
    const { signer, accounts, rejected } = this.admission;
    return async (job: Job, token?: string) => {
      const verdict = signer.verify(queue, job.name, job.data);
      if (!verdict.ok) {
        rejected.inc({ reason: verdict.reason, queue });
        logger.error({ queue, job_id: job.id, name: job.name, reason: verdict.reason }, `job refused: ${verdict.reason === 'missing' ? 'it carries no signature' : 'its signature is not valid'} (QUEUE_SIGNING_KEY)`);
        throw new UnrecoverableError(`refused: ${verdict.reason} signature`);
      }
      const definition = names.get(job.name);
      if (!definition) throw new UnrecoverableError(`no handler for ${job.name} on ${queue}`);
      const parsed = definition.schema.safeParse(verdict.payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = `${issue?.path.join('.')}: ${issue?.message}`;
        logger.error({ queue, job_id: job.id, name: job.name, issue: where }, `invalid ${job.name} job`);
        throw new UnrecoverableError(`invalid ${job.name} job: ${where}`);
      }
      if (!accounts.any && definition.account) {
        const account = await definition.account(parsed.data, ctx);
        if (account !== null && !accounts.allows(account)) {
          logger.info({ queue, job_id: job.id, name: job.name, account }, `job of ${account} not run: not in ALLOWED_ACCOUNTS`);
          return NOT_ALLOWED;
        }
      }
      return definition.handle(parsed.data, ctx, job, token);
    };
  }
}
