import { environmentKey, lockEnvironmentPullRequest, supersedeActiveDeployments, updateEnvironmentStatus } from '@ephemera/db';
import { CLEANUP_JOBS } from '@ephemera/schema';
import { isServed } from '../../environment-account.js';
import { clearFinishedJob } from '../../follow-ups.js';
import { repositoriesWithWaiting, startWaiting } from '../../repository-capacity.js';
import type { JobContext } from '../job-context.js';
import { deployJobId } from '../provisioning/deploy.js';
import { destroyJobId } from '../provisioning/destroy.js';
import { sweepJob } from '../sweep-job.js';

/** `cleanup.stuck`, every CLEANUP_INTERVAL_MS: see {@link mendStuck}. */
export const stuckJob = sweepJob(CLEANUP_JOBS.stuck, { id: 'cleanup-stuck', every: (s) => s.CLEANUP_INTERVAL_MS }, mendStuck);

/**
 * Environments stuck mid-step for STUCK_AFTER_MINUTES get their step queued again, or are failed once stuck for twice
 * that; teardowns that failed are asked for again, and environments waiting for a place take the places freed.
 */
export async function mendStuck(deps: JobContext): Promise<string> {
  const { db, queues, followUps, logger, accounts } = deps;
  const stuckAfterMinutes = deps.config.STUCK_AFTER_MINUTES;
  const bound = new Date(Date.now() - stuckAfterMinutes * 60_000);
  const giveUp = new Date(Date.now() - 2 * stuckAfterMinutes * 60_000);
  const found = await db.environment.findMany({
    // An environment waiting for room in its repository is not stuck.
    where: { status: { in: ['PENDING', 'PROVISIONING', 'UPDATING', 'DESTROYING'] }, updatedAt: { lt: bound }, waitingSince: null },
    take: 500,
  });
  // A teardown is finished whoever's the environment; anything else only for the accounts served.
  const stuck = found.filter((env) => env.status === 'DESTROYING' || isServed(accounts, env));
  let retried = 0;
  let failed = 0;
  for (const env of stuck) {
    if (env.updatedAt < giveUp && env.status !== 'PENDING') {
      const reason = `stuck in ${env.status} for more than ${2 * stuckAfterMinutes} minutes`;
      const moved = await db.$transaction(async (tx) => {
        await lockEnvironmentPullRequest(tx, env.id);
        const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
        if (current.status !== env.status) return false;
        await supersedeActiveDeployments(tx, env.id, reason, deps.settings.logMaxBytes);
        await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: reason });
        return true;
      });
      if (moved) {
        failed++;
        await followUps.after(environmentKey(env));
      }
      continue;
    }
    // Queue the step again. A finished job under the same id would make the add a no-op: remove it first.
    const latest = await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' } });
    // Waiting for its commit's checks is not stuck: its deadline and the poll look after it.
    if (env.status !== 'DESTROYING' && latest?.status === 'WAITING') continue;
    const jobId = env.status === 'DESTROYING' ? destroyJobId(env.id, latest?.id ?? null) : latest ? deployJobId(latest.id) : null;
    if (jobId && !(await clearFinishedJob(queues.provisioning, jobId))) continue;
    retried++;
    if (env.status === 'DESTROYING') await followUps.destroy({ environmentId: env.id, deploymentId: latest?.id ?? null });
    // The deploy step picks up a deployment left IN_PROGRESS by a job that is gone, as well as a QUEUED one.
    else if (latest && (latest.status === 'QUEUED' || latest.status === 'IN_PROGRESS')) {
      await followUps.deploy({ environmentId: env.id, deploymentId: latest.id });
    }
  }
  const destroys = await retryFailedDestroys(deps);
  let started = 0;
  for (const repo of (await repositoriesWithWaiting(db)).filter((r) => isServed(accounts, r))) {
    for (const pr of await startWaiting(db, repo, deps.settings.maxEnvironmentsPerRepo ?? 0)) {
      started++;
      await followUps.afterWaiting(environmentKey(pr));
    }
  }
  if (retried + failed + destroys + started > 0) logger.warn({ retried, failed, destroys, started }, 'stuck environments handled');
  return `retried ${retried}, failed ${failed}, destroys retried ${destroys}, waiting started ${started}`;
}

/** A teardown that failed (a namespace stuck Terminating past DESTROY_TIMEOUT_SECONDS) is asked for again. */
async function retryFailedDestroys(deps: JobContext): Promise<number> {
  const { db, followUps } = deps;
  const failed = await db.environment.findMany({
    where: { status: 'FAILED', destroyRequestedAt: { not: null } },
    select: { id: true, repositoryId: true, repositoryFullName: true, prNumber: true },
    take: 500,
  });
  let n = 0;
  for (const env of failed) {
    const moved = await db.$transaction(async (tx) => {
      await lockEnvironmentPullRequest(tx, env.id);
      const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id }, select: { status: true, destroyRequestedAt: true } });
      if (current.status !== 'FAILED' || current.destroyRequestedAt === null) return false;
      await updateEnvironmentStatus(tx, env.id, 'DESTROYING');
      return true;
    });
    if (moved) {
      n++;
      // The failed destroy job keeps its id: it is removed so the destroy can be queued again under it.
      const latest = await db.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' }, select: { id: true } });
      await clearFinishedJob(deps.queues.provisioning, destroyJobId(env.id, latest?.id ?? null));
      await followUps.after(environmentKey(env));
    }
  }
  return n;
}
