import { UnrecoverableError, type Job } from 'bullmq';
import { appendDeploymentLogs, environmentKey, getLatestDeployment, lockEnvironmentPullRequest, updateEnvironmentStatus, type Environment } from '@ephemera/db';
import { PROVISIONING_JOBS, QUEUES, destroyJobSchema, teardownSweepJobSchema, type DestroyJob, type TeardownSweepJob } from '@ephemera/schema';
import { defineJob, type JobDefinition } from '../jobs/job-registry.js';
import { ProvisionError } from '../provisioners/provisioner.js';
import { lockRepository, placesTaken, startWaiting } from '../repository-capacity.js';
import { describe, isFinalAttempt, logBuffer, target, type ProvisioningDeps } from './provisioning-processor.js';

/**
 * Teardowns, without holding a provisioning slot while a namespace takes its time: the destroy job asks for the
 * deletion and looks once; a namespace still Terminating is followed by the teardown sweep (one labelled list of the
 * installation's namespaces per pass), which moves each environment to DESTROYED when its namespace is gone, or to
 * FAILED past DESTROY_TIMEOUT_SECONDS, and looks again later while any remain.
 */
export function teardownJobs(deps: ProvisioningDeps): JobDefinition[] {
  return [
    // A teardown only removes, whoever's the environment: one of an account no longer allowed still goes.
    defineJob({ queue: QUEUES.provisioning, name: PROVISIONING_JOBS.destroy, schema: destroyJobSchema, account: null, handle: (data, job) => destroy(deps, data, job) }),
    defineJob({ queue: QUEUES.provisioning, name: PROVISIONING_JOBS.teardowns, schema: teardownSweepJobSchema, account: null, handle: (data) => sweepTeardowns(deps, data) }),
  ];
}

async function destroy(deps: ProvisioningDeps, { environmentId, deploymentId }: DestroyJob, job: Job): Promise<string> {
  const { db, provisioner, followUps, logger, logMaxBytes } = deps;
  const env = await db.environment.findUnique({ where: { id: environmentId } });
  if (!env || env.status !== 'DESTROYING') return `skipped: environment ${env?.status ?? 'gone'}`;
  // The teardown's lines go to the logs of the deployment it ends, so the API shows why a destroy took long.
  const logs = logBuffer(db, deploymentId, logMaxBytes);
  let state: 'gone' | 'terminating';
  try {
    state = await provisioner.destroy(target(env, env.commitSha), logs.push, AbortSignal.timeout(5 * 60_000));
  } catch (err) {
    logs.push(`error: ${describe(err)}`);
    await logs.close().catch(() => undefined);
    if (!isFinalAttempt(job, err)) {
      logger.warn({ environment_id: environmentId, attempt: job.attemptsMade + 1, err: describe(err) }, 'destroy failed; retrying');
      throw err;
    }
    await failTeardown(deps, env, `destroy failed: ${describe(err)}`);
    throw err instanceof ProvisionError && !err.transient ? new UnrecoverableError(describe(err)) : err;
  }
  await logs.close().catch(() => undefined);
  if (state === 'terminating') {
    await followUps.teardownSweep(0);
    return 'deletion requested; the teardown sweep follows it';
  }
  return (await finishTeardown(deps, env)) ? 'destroyed, then queued again (reopened)' : 'destroyed';
}

/** One pass of the teardown sweep; another follows while a namespace is still being deleted. */
async function sweepTeardowns(deps: ProvisioningDeps, { attempt }: TeardownSweepJob): Promise<string> {
  const { db, provisioner, followUps } = deps;
  const pending = await db.environment.findMany({ where: { status: 'DESTROYING', destroyRequestedAt: { not: null } }, orderBy: { id: 'asc' }, take: 500 });
  if (pending.length === 0) return 'no teardown under way';
  const owned = await provisioner.ownedNamespaces(AbortSignal.timeout(60_000));
  const byName = new Map((owned ?? []).map((o) => [o.namespace, o]));
  let destroyed = 0;
  let failed = 0;
  let left = 0;
  for (const env of pending) {
    const ns = byName.get(env.namespace);
    if (!ns) {
      await appendToLatest(deps, env, `namespace ${env.namespace} deleted`);
      await finishTeardown(deps, env);
      destroyed++;
    } else if (!ns.terminating) {
      // Not deleted yet: its destroy job has not run, and asks for a sweep when it has.
    } else if (Date.now() - env.destroyRequestedAt!.getTime() > provisioner.destroyTimeout.ms) {
      const reason = `namespace ${env.namespace} is still Terminating after ${provisioner.destroyTimeout.seconds} s${ns.conditions ? `: ${ns.conditions}` : ''}`;
      await appendToLatest(deps, env, reason);
      await failTeardown(deps, env, `destroy failed: ${reason}`);
      failed++;
    } else {
      left++;
    }
  }
  if (left > 0) await followUps.teardownSweep(attempt + 1);
  return `destroyed ${destroyed}, failed ${failed}, still terminating ${left}`;
}

/** A teardown that cannot finish: FAILED with the reason; the stuck sweep asks for it again later. */
async function failTeardown({ db, followUps }: ProvisioningDeps, env: Environment, reason: string): Promise<void> {
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
async function finishTeardown({ db, followUps, logger, maxEnvironmentsPerRepo = 0 }: ProvisioningDeps, env: Environment): Promise<boolean> {
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
async function appendToLatest({ db, logMaxBytes }: ProvisioningDeps, env: Environment, line: string): Promise<void> {
  const latest = await getLatestDeployment(db, env.id);
  if (latest) await appendDeploymentLogs(db, latest.id, `${new Date().toISOString()} ${line}\n`, logMaxBytes);
}
