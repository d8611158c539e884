import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import { readPullRequest, repositoryIdentity, type PrismaClient, type PullRequestKey } from '@ephemera/db';
import type { JobSigner } from '@ephemera/runtime';
import { FEEDBACK_JOB, PROVISIONING_JOBS, type DeployJob, type DestroyJob, type FeedbackJob } from '@ephemera/schema';
import { feedbackJobOptions, provisioningJobOptions, type WorkerQueues } from './queues.js';
import type { Touched } from './touched.js';

/**
 * Queues what must follow a committed state change, derived from the state itself rather than from the event:
 * a deploy for a queued deployment, a destroy for a DESTROYING environment, feedback for GitHub. Deploy and
 * destroy job ids are deterministic and feedback is deduplicated per pull request, so calling this again (a
 * retried or duplicate delivery, the stuck-job sweep) adds nothing twice, and a crash between the commit and this
 * call is mended by the next call.
 */
export class FollowUps {
  /**
   * Feedback jobs this process created with a delay, by pull request, and until when each surely still waits: a
   * change committed before then is reported by that job, so it needs no add (the queue would absorb the add).
   */
  private readonly waitingFeedback = new Map<string, number>();

  constructor(
    private readonly db: PrismaClient,
    private readonly queues: WorkerQueues,
    /** Signs every job queued here (QUEUE_SIGNING_KEY), as every producer does: the worker runs no other. */
    private readonly signer: JobSigner,
    private readonly provisionAttempts: number,
    /** FEEDBACK_DELAY_MS: how long feedback waits for more changes of the same pull request before reporting. */
    private readonly feedbackDelayMs = 0,
    /** How long the teardown sweep's first look waits after a deletion was asked for; later looks back off to 30 s. */
    private readonly teardownCheckMs = 2_000,
  ) {}

  /**
   * A pass of the teardown sweep, after a back-off that grows with `attempt`. Destroys asking for one while one waits
   * share it; one asked for while one runs follows it.
   */
  async teardownSweep(attempt: number): Promise<void> {
    await this.add(this.queues.provisioning, PROVISIONING_JOBS.teardowns, { attempt }, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: `teardowns-${randomUUID()}`,
      delay: Math.min(30_000, this.teardownCheckMs * 2 ** Math.min(attempt, 10)),
      deduplication: { id: 'teardowns', keepLastIfActive: true },
    });
  }

  async ensure(touched: readonly Touched[]): Promise<void> {
    for (const t of touched) await this.ensureOne(t);
  }

  private async ensureOne(t: Touched): Promise<void> {
    let { environment: env, latest } = t;
    if (env === undefined || latest === undefined) {
      // Not known from a transaction (a duplicate delivery, a sweep): read as it is now.
      const record = await readPullRequest(this.db, t.key);
      env = record.environment && { id: record.environment.id, status: record.environment.status, waitingSince: record.environment.waitingSince, installationId: record.environment.installationId };
      latest = record.latest;
    }
    // The step and the feedback are independent adds (the feedback job reads the state when it runs), sent together.
    const step =
      env?.status === 'DESTROYING'
        ? this.destroy({ environmentId: env.id, deploymentId: latest?.id ?? null })
        : env && latest?.status === 'QUEUED' && env.status !== 'DESTROYED' && env.waitingSince === null
          ? this.deploy({ environmentId: env.id, deploymentId: latest.id })
          : undefined;
    await Promise.all([step, this.feedback(t.key, env ? Number(env.installationId) || null : t.installationId)]);
  }

  async deploy(job: DeployJob): Promise<void> {
    await this.add(this.queues.provisioning, PROVISIONING_JOBS.deploy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: deployJobId(job.deploymentId),
    });
  }

  async destroy(job: DestroyJob): Promise<void> {
    await this.add(this.queues.provisioning, PROVISIONING_JOBS.destroy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: destroyJobId(job.environmentId, job.deploymentId),
    });
  }

  /**
   * Feedback for a pull request as it will be when the job runs. One job per pull request waits or runs at a
   * time: an add while one waits is absorbed by it (it reads the state when it runs), and an add while one runs
   * leaves exactly one more to follow it, so a burst of changes ends in one report and the last change is never
   * missed.
   */
  async feedback(key: PullRequestKey, installationId: number | null): Promise<void> {
    const job: FeedbackJob = {
      repositoryId: key.repositoryId === null ? null : Number(key.repositoryId),
      repositoryFullName: key.repositoryFullName,
      prNumber: key.prNumber,
      installationId,
    };
    const dedupId = feedbackDedupId(key);
    const now = Date.now();
    if ((this.waitingFeedback.get(dedupId) ?? 0) > now) return;
    const jobId = `${dedupId}-${randomUUID()}`;
    const added = await this.add(this.queues.feedback, FEEDBACK_JOB, job, { ...feedbackJobOptions(dedupId, this.feedbackDelayMs), jobId });
    // Only a job this add created is known to wait; an add absorbed by another job learns nothing of its time. The
    // margin keeps well short of the delay, since the job runs at its time or later, never earlier.
    if (added.id === jobId && this.feedbackDelayMs >= 100) {
      if (this.waitingFeedback.size >= 10_000) for (const [k, until] of this.waitingFeedback) if (until <= now) this.waitingFeedback.delete(k);
      this.waitingFeedback.set(dedupId, now + this.feedbackDelayMs / 2);
    }
  }

  /**
   * Another look at a deployment's deploy gate (a check of its commit concluded, or the poll): the deploy step, under
   * an id of its own, since the deployment's deploy job already ran. Looks asked for while one waits are absorbed by
   * it, and one asked for while one runs follows it.
   */
  async gateCheck(job: DeployJob): Promise<void> {
    const dedupId = `gate-${job.deploymentId}`;
    await this.add(this.queues.provisioning, PROVISIONING_JOBS.deploy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: `${dedupId}-${randomUUID()}`,
      deduplication: { id: dedupId, keepLastIfActive: true },
    });
  }

  /** The look at a waiting deployment's gate at its deadline, which fails it if it still waits then. */
  async gateDeadline(job: DeployJob, at: Date): Promise<void> {
    await this.add(this.queues.provisioning, PROVISIONING_JOBS.deploy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: gateDeadlineJobId(job.deploymentId),
      delay: Math.max(0, at.getTime() - Date.now()) + 100,
    });
  }

  /** The deadline's look is not needed once the gate opened or failed. */
  async cancelGateDeadline(deploymentId: number): Promise<void> {
    const job = await this.queues.provisioning.getJob(gateDeadlineJobId(deploymentId));
    if (job && (await job.isDelayed())) await job.remove().catch(() => undefined);
  }

  private add(queue: Queue, name: string, data: object, opts: JobsOptions) {
    return queue.add(name, this.signer.sign(queue.name, name, data), opts);
  }

  /** FEEDBACK_DELAY_MS: a step that ends sooner reports its start and end together. */
  get feedbackDelay(): number {
    return this.feedbackDelayMs;
  }

  /**
   * The deploy of an environment that waited for a place under MAX_ENVIRONMENTS_PER_REPO. A deploy job that ran
   * while it still waited finished without deploying; it is removed so the deploy can be queued under its id.
   */
  async afterWaiting(key: PullRequestKey): Promise<void> {
    const { latest } = await readPullRequest(this.db, key);
    if (latest?.status === 'QUEUED') await clearFinishedJob(this.queues.provisioning, deployJobId(latest.id));
    await this.ensureOne({ key, installationId: null });
  }

  /** Follow-ups of a pull request's current state (after a provisioning step or a sweep changed it). */
  async after(key: PullRequestKey): Promise<void> {
    await this.ensureOne({ key, installationId: null });
  }
}

/** One feedback job per pull request at a time, by repository id (or name, for rows from before ids were kept). */
function feedbackDedupId(key: PullRequestKey): string {
  return `fb-${repositoryIdentity(key)}-${key.prNumber}`;
}

/**
 * Removes a finished (completed or failed) job so the same id can be queued again; BullMQ ignores an add under
 * the id of a job it still keeps. False when the job is still queued or running.
 */
export async function clearFinishedJob(queue: Queue, jobId: string): Promise<boolean> {
  const existing = await queue.getJob(jobId);
  const state = existing ? await existing.getState() : undefined;
  if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') return false;
  if (existing) await existing.remove();
  return true;
}

function gateDeadlineJobId(deploymentId: number): string {
  return `gate-deadline-${deploymentId}`;
}

/** A deploy's job id: one job per deployment, so queueing it again adds nothing. */
export function deployJobId(deploymentId: number): string {
  return `deploy-${deploymentId}`;
}

/** A destroy's job id: the latest deployment is part of it, so a teardown asked for after a reopen is a new job. */
export function destroyJobId(environmentId: number, deploymentId: number | null): string {
  return `destroy-${environmentId}-${deploymentId ?? 0}`;
}
