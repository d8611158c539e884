import type { Job } from 'bullmq';
import { updateDeploymentStatus, updateEnvironmentStatus, type PrismaClient } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { CLEANUP_JOBS } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import { lockPullRequest } from '../pull-request-lock.js';
import type { WorkerQueues } from '../queues.js';

export interface CleanupDeps {
  db: PrismaClient;
  queues: WorkerQueues;
  followUps: FollowUps;
  logger: Logger;
  ttlHours: number;
  stuckAfterMinutes: number;
}

/**
 * The scheduled sweeps: idle environments are destroyed (with a comment on how to bring them back), and
 * environments stuck mid-step get their step queued again, or are failed once they have been stuck for twice
 * the bound.
 */
export function createCleanupProcessor(deps: CleanupDeps) {
  return async function processCleanup(job: Job): Promise<string> {
    if (job.name === CLEANUP_JOBS.idle) return destroyIdle(deps);
    if (job.name === CLEANUP_JOBS.stuck) return mendStuck(deps);
    return `unknown cleanup job ${job.name}`;
  };
}

export async function destroyIdle({ db, followUps, logger, ttlHours }: CleanupDeps): Promise<string> {
  const cutoff = new Date(Date.now() - ttlHours * 3600_000);
  // "No push for TTL": the newest deployment (one per push) is older than the cutoff.
  const idle = await db.$queryRaw<Array<{ id: number; repository_full_name: string; pr_number: number }>>`
    SELECT e.id, e.repository_full_name, e.pr_number
      FROM environments e
     WHERE e.status IN ('READY', 'FAILED')
       AND COALESCE((SELECT max(d.created_at) FROM deployments d WHERE d.environment_id = e.id), e.created_at) < ${cutoff}
     LIMIT 500`;
  const note = `This preview had no push for ${ttlHours} hours and was removed to free resources. Push a commit or reopen the pull request to bring it back.`;
  let destroyed = 0;
  for (const env of idle) {
    const moved = await db.$transaction(async (tx) => {
      await lockPullRequest(tx, env.repository_full_name, env.pr_number);
      const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
      if (current.status !== 'READY' && current.status !== 'FAILED') return false;
      await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
      return true;
    });
    if (!moved) continue;
    destroyed++;
    await followUps.feedbackFor(env.repository_full_name, env.pr_number, note);
  }
  if (destroyed > 0) logger.info({ destroyed, ttl_hours: ttlHours }, 'idle environments destroyed');
  return `destroyed ${destroyed} idle environment(s)`;
}

export async function mendStuck({ db, queues, followUps, logger, stuckAfterMinutes }: CleanupDeps): Promise<string> {
  const bound = new Date(Date.now() - stuckAfterMinutes * 60_000);
  const giveUp = new Date(Date.now() - 2 * stuckAfterMinutes * 60_000);
  const stuck = await db.environment.findMany({
    where: { status: { in: ['PENDING', 'PROVISIONING', 'UPDATING', 'DESTROYING'] }, updatedAt: { lt: bound } },
    take: 500,
  });
  let retried = 0;
  let failed = 0;
  for (const env of stuck) {
    if (env.updatedAt < giveUp && env.status !== 'PENDING') {
      const reason = `stuck in ${env.status} for more than ${2 * stuckAfterMinutes} minutes`;
      const moved = await db.$transaction(async (tx) => {
        await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
        const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
        if (current.status !== env.status) return false;
        const active = await tx.deployment.findMany({
          where: { environmentId: env.id, status: { in: ['QUEUED', 'IN_PROGRESS'] } },
          select: { id: true },
        });
        for (const d of active) await updateDeploymentStatus(tx, d.id, 'FAILED', { errorMessage: reason });
        await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: reason });
        return true;
      });
      if (moved) {
        failed++;
        await followUps.feedbackFor(env.repositoryFullName, env.prNumber);
      }
      continue;
    }
    // Queue the step again. A finished job under the same id would make the add a no-op: remove it first.
    const latest = await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    const jobId = env.status === 'DESTROYING' ? `destroy-${env.id}-${latest?.id ?? 0}` : latest ? `deploy-${latest.id}` : null;
    if (jobId) {
      const existing = await queues.provisioning.getJob(jobId);
      const state = existing ? await existing.getState() : undefined;
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') continue;
      if (existing) await existing.remove();
    }
    retried++;
    if (env.status === 'DESTROYING') await followUps.destroy({ environmentId: env.id, deploymentId: latest?.id ?? null });
    // The deploy step picks up a deployment left IN_PROGRESS by a job that is gone, as well as a QUEUED one.
    else if (latest && (latest.status === 'QUEUED' || latest.status === 'IN_PROGRESS')) {
      await followUps.deploy({ environmentId: env.id, deploymentId: latest.id });
    }
  }
  if (retried + failed > 0) logger.warn({ retried, failed }, 'stuck environments handled');
  return `retried ${retried}, failed ${failed}`;
}
