import { appendDeploymentLogs, environmentKey, getLatestDeployment, lockEnvironmentPullRequest, updateEnvironmentStatus, type Environment } from '@ephemera/db';
import type { JobContext } from '../jobs/job-context.js';
import { lockRepository, placesTaken, startWaiting } from '../repository-capacity.js';

/** What ending a teardown needs of the job context. */
export type TeardownDeps = Pick<JobContext, 'db' | 'followUps' | 'logger' | 'settings'>;

/** A teardown that cannot finish: FAILED with the reason; the stuck sweep asks for it again later. */
export async function failTeardown({ db, followUps }: TeardownDeps, env: Environment, reason: string): Promise<void> {
  await db.$transaction(async (tx) => {
    await lockEnvironmentPullRequest(tx, env.id);
    const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
    if (current.status === 'DESTROYING') await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: reason });
  });
  await followUps.after(environmentKey(env));
}

/**
 * The environment's namespace is gone: DESTROYED, or back to PENDING when it was reopened meanwhile (its queued
 * deployment starts, or waits its turn), and its place goes to the oldest environment of the repository waiting for
 * one. True when it comes back.
 */
export async function finishTeardown({ db, followUps, logger, settings }: TeardownDeps, env: Environment): Promise<boolean> {
  const maxEnvironmentsPerRepo = settings.maxEnvironmentsPerRepo ?? 0;
  const key = environmentKey(env);
  const comesBack = await db.$transaction(async (tx) => {
    await lockEnvironmentPullRequest(tx, env.id);
    if (maxEnvironmentsPerRepo > 0) await lockRepository(tx, key);
    const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
    if (current.status !== 'DESTROYING') return false;
    await updateEnvironmentStatus(tx, env.id, 'DESTROYED');
    const latest = await getLatestDeployment(tx, env.id);
    if (latest?.status === 'QUEUED') {
      await updateEnvironmentStatus(tx, env.id, 'PENDING');
      if (maxEnvironmentsPerRepo > 0 && (await placesTaken(tx, key, env.id)) >= maxEnvironmentsPerRepo) {
        await tx.environment.update({ where: { id: env.id }, data: { waitingSince: new Date() } });
      }
      return true;
    }
    return false;
  });
  logger.info({ environment_id: env.id, namespace: env.namespace }, 'environment destroyed');
  await followUps.after(key);
  if (maxEnvironmentsPerRepo > 0) {
    for (const started of await startWaiting(db, key, maxEnvironmentsPerRepo)) await followUps.afterWaiting(environmentKey(started));
  }
  return comesBack;
}

/** A line in the logs of the environment's latest deployment, where the teardown's own lines went. */
export async function appendToLatest({ db, settings }: TeardownDeps, env: Environment, line: string): Promise<void> {
  const latest = await getLatestDeployment(db, env.id);
  if (latest) await appendDeploymentLogs(db, latest.id, `${new Date().toISOString()} ${line}\n`, settings.logMaxBytes);
}
