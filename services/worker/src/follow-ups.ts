import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { readPullRequest, type PrismaClient, type PullRequestKey } from '@ephemera/db';
import type { DeployJob, DestroyJob, FeedbackJob } from '@ephemera/schema';
import { enqueue, type JobProducer } from './jobs/enqueue.js';
import { feedbackDedupId, feedbackJob } from './jobs/feedback/report.js';
import { deployJob, deployJobId, gateCheckOptions, gateDeadlineJobId, gateDeadlineOptions } from './jobs/provisioning/deploy.js';
import { destroyJob } from './jobs/provisioning/destroy.js';
import { teardownsJob } from './jobs/provisioning/teardowns.js';
import { touchedPullRequest, type Touched } from './touched.js';

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
    /** Every job is queued through its definition (jobs/), with the options it defines. */
    private readonly producer: JobProducer,
  ) {}

  /** FEEDBACK_DELAY_MS: how long feedback waits for more changes of the same pull request before reporting. */
  private get feedbackDelayMs(): number {
    return this.producer.settings.FEEDBACK_DELAY_MS;
  }

  /**
   * A pass of the teardown sweep, after a back-off that grows with `attempt`. Destroys asking for one while one waits
   * share it; one asked for while one runs follows it.
   */
  async teardownSweep(attempt: number): Promise<void> {
    await enqueue(this.producer, teardownsJob, { attempt });
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
    await enqueue(this.producer, deployJob, job);
  }

  async destroy(job: DestroyJob): Promise<void> {
    await enqueue(this.producer, destroyJob, job);
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
    const dedupId = feedbackDedupId(job);
    const now = Date.now();
    if ((this.waitingFeedback.get(dedupId) ?? 0) > now) return;
    const jobId = `${dedupId}-${randomUUID()}`;
    const added = await enqueue(this.producer, feedbackJob, job, { jobId });
    // Only a job this add created is known to wait; an add absorbed by another job learns nothing of its time. The
    // margin keeps well short of the delay, since the job runs at its time or later, never earlier.
    if (added.id === jobId && this.feedbackDelayMs >= 100) {
      if (this.waitingFeedback.size >= 10_000) for (const [k, until] of this.waitingFeedback) if (until <= now) this.waitingFeedback.delete(k);
      this.waitingFeedback.set(dedupId, now + this.feedbackDelayMs / 2);
    }
  }

  /** Another look at a deployment's deploy gate (a check of its commit concluded, or the poll). */
  async gateCheck(job: DeployJob): Promise<void> {
    await enqueue(this.producer, deployJob, job, gateCheckOptions(job));
  }

  /** The look at a waiting deployment's gate at its deadline, which fails it if it still waits then. */
  async gateDeadline(job: DeployJob, at: Date): Promise<void> {
    await enqueue(this.producer, deployJob, job, gateDeadlineOptions(job, at));
  }

  /** The deadline's look is not needed once the gate opened or failed. */
  async cancelGateDeadline(deploymentId: number): Promise<void> {
    const job = await this.producer.queues.provisioning.getJob(gateDeadlineJobId(deploymentId));
    if (job && (await job.isDelayed())) await job.remove().catch(() => undefined);
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
    if (latest?.status === 'QUEUED') await clearFinishedJob(this.producer.queues.provisioning, deployJobId(latest.id));
    await this.ensureOne(touchedPullRequest(key, null));
  }

  /** Follow-ups of a pull request's current state (after a provisioning step or a sweep changed it). */
  async after(key: PullRequestKey): Promise<void> {
    await this.ensureOne(touchedPullRequest(key, null));
  }
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
