import type { Queue } from 'bullmq';
import { getEnvironmentByPr, getLatestDeployment, type PrismaClient } from '@ephemera/db';
import { FEEDBACK_JOB, PROVISIONING_JOBS, type DeployJob, type DestroyJob, type FeedbackJob } from '@ephemera/schema';
import { FEEDBACK_JOB_OPTIONS, provisioningJobOptions, type WorkerQueues } from './queues.js';
import type { Touched } from './touched.js';

/**
 * Queues what must follow a committed state change, derived from the state itself rather than from the event:
 * a deploy for a queued deployment, a destroy for a DESTROYING environment, feedback for GitHub. Job ids are
 * deterministic, so calling this again (a retried or duplicate delivery, the stuck-job sweep) adds nothing
 * twice, and a crash between the commit and this call is mended by the next call.
 */
export class FollowUps {
  constructor(
    private readonly db: PrismaClient,
    private readonly queues: WorkerQueues,
    private readonly provisionAttempts: number,
  ) {}

  async ensure(touched: readonly Touched[]): Promise<void> {
    for (const t of touched) await this.ensureOne(t);
  }

  private async ensureOne(t: Touched): Promise<void> {
    const env = await getEnvironmentByPr(this.db, t.repositoryFullName, t.prNumber);
    const latest = env ? await getLatestDeployment(this.db, env.id) : null;
    if (env?.status === 'DESTROYING') {
      await this.destroy({ environmentId: env.id, deploymentId: latest?.id ?? null });
    } else if (env && latest?.status === 'QUEUED' && env.status !== 'DESTROYED' && env.waitingSince === null) {
      await this.deploy({ environmentId: env.id, deploymentId: latest.id });
    }
    const installationId = env ? Number(env.installationId) || null : t.installationId;
    const base = { repositoryFullName: t.repositoryFullName, prNumber: t.prNumber, installationId };
    await this.feedback(
      { ...base, deploymentId: latest?.id ?? null, note: t.note },
      `${env?.id ?? 'none'}-${env?.status ?? 'none'}-${latest?.id ?? 0}-${latest?.status ?? 'none'}${t.note ? `-${hash(t.note)}` : ''}`,
    );
    for (const id of t.superseded) {
      await this.feedback({ ...base, deploymentId: id, note: null }, `superseded-${id}`);
    }
  }

  async deploy(job: DeployJob): Promise<void> {
    await this.queues.provisioning.add(PROVISIONING_JOBS.deploy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: deployJobId(job.deploymentId),
    });
  }

  async destroy(job: DestroyJob): Promise<void> {
    await this.queues.provisioning.add(PROVISIONING_JOBS.destroy, job, {
      ...provisioningJobOptions(this.provisionAttempts),
      jobId: destroyJobId(job.environmentId, job.deploymentId),
    });
  }

  async feedback(job: FeedbackJob, key: string): Promise<void> {
    await this.queues.feedback.add(FEEDBACK_JOB, job, {
      ...FEEDBACK_JOB_OPTIONS,
      jobId: `fb-${job.repositoryFullName.replace(/[^A-Za-z0-9._-]/g, '_')}-${job.prNumber}-${key}`,
    });
  }

  /**
   * The deploy of an environment that waited for a place under MAX_ENVIRONMENTS_PER_REPO. A deploy job that ran
   * while it still waited finished without deploying; it is removed so the deploy can be queued under its id.
   */
  async afterWaiting(repositoryFullName: string, prNumber: number): Promise<void> {
    const env = await getEnvironmentByPr(this.db, repositoryFullName, prNumber);
    const latest = env ? await getLatestDeployment(this.db, env.id) : null;
    if (latest?.status === 'QUEUED') await clearFinishedJob(this.queues.provisioning, deployJobId(latest.id));
    await this.feedbackFor(repositoryFullName, prNumber);
  }

  /** Feedback for a PR's current state (after a provisioning step changed it). */
  async feedbackFor(repositoryFullName: string, prNumber: number, note: string | null = null): Promise<void> {
    await this.ensureOne({ repositoryFullName, prNumber, installationId: null, superseded: [], note });
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

/** A deploy's job id: one job per deployment, so queueing it again adds nothing. */
export function deployJobId(deploymentId: number): string {
  return `deploy-${deploymentId}`;
}

/** A destroy's job id: the latest deployment is part of it, so a teardown asked for after a reopen is a new job. */
export function destroyJobId(environmentId: number, deploymentId: number | null): string {
  return `destroy-${environmentId}-${deploymentId ?? 0}`;
}

function hash(text: string): string {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}
