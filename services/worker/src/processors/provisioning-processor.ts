import { UnrecoverableError, type Job } from 'bullmq';
import {
  appendDeploymentLogs,
  getLatestDeployment,
  updateDeploymentStatus,
  updateEnvironmentStatus,
  type Environment,
  type PrismaClient,
} from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { PROVISIONING_JOBS, deployJobSchema, destroyJobSchema } from '@ephemera/schema';
import type { FollowUps } from '../follow-ups.js';
import { ProvisionError, StepAbandoned, type ProvisionTarget, type Provisioner } from '../provisioners/provisioner.js';
import { lockPullRequest } from '../pull-request-lock.js';
import { lockRepository, placesTaken, startWaiting } from '../repository-capacity.js';

export interface ProvisioningDeps {
  db: PrismaClient;
  provisioner: Provisioner;
  followUps: FollowUps;
  logger: Logger;
  /** How often a running step checks that it is still wanted (not superseded, not closed). */
  checkIntervalMs?: number;
  /** MAX_ENVIRONMENTS_PER_REPO (0: no limit). */
  maxEnvironmentsPerRepo?: number;
  /** DEPLOYMENT_LOG_MAX_BYTES. */
  logMaxBytes?: number;
}

/** Deploys and destroys, one job name each. */
export function createProvisioningProcessor(deps: ProvisioningDeps) {
  const deploy = createDeployStep(deps);
  const destroy = createDestroyStep(deps);
  return async function processProvisioning(job: Job): Promise<string> {
    if (job.name === PROVISIONING_JOBS.deploy) return deploy(job);
    if (job.name === PROVISIONING_JOBS.destroy) return destroy(job);
    throw new UnrecoverableError(`unknown provisioning job ${job.name}`);
  };
}

function target(env: Environment, commitSha: string): ProvisionTarget {
  return {
    environmentId: env.id,
    namespace: env.namespace,
    repositoryFullName: env.repositoryFullName,
    prNumber: env.prNumber,
    branchName: env.branchName,
    commitSha,
    environmentUrl: env.environmentUrl,
    installationId: Number(env.installationId),
    fromFork: env.fromFork,
    // A fork never supplies the configuration: its previews are configured by the base branch.
    configSha: env.fromFork ? env.baseSha : commitSha,
  };
}

function isFinalAttempt(job: Job, err: unknown): boolean {
  if (err instanceof ProvisionError && !err.transient) return true;
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

function describe(err: unknown): string {
  if (err instanceof ProvisionError && err.events.length > 0) return `${err.message} (${err.events.join('; ')})`;
  return err instanceof Error ? err.message : String(err);
}

/** Collects log lines and appends them to the deployment in batches, not one write per line. */
function logBuffer(db: PrismaClient, deploymentId: number | null, maxBytes?: number) {
  let lines: string[] = [];
  const flush = async () => {
    if (lines.length === 0 || deploymentId === null) return;
    const text = lines.map((l) => `${new Date().toISOString()} ${l}\n`).join('');
    lines = [];
    await appendDeploymentLogs(db, deploymentId, text, maxBytes);
  };
  const timer = setInterval(() => void flush().catch(() => undefined), 1_000);
  return {
    push: (line: string) => void lines.push(line),
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

/** Aborts the step when `stillWanted` turns false: a newer push superseded it or the PR was closed. */
function watchdog(stillWanted: () => Promise<boolean>, intervalMs: number) {
  const controller = new AbortController();
  const timer = setInterval(() => {
    stillWanted().then(
      (ok) => ok || controller.abort(new StepAbandoned('no longer wanted')),
      () => undefined,
    );
  }, intervalMs);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

function createDeployStep({ db, provisioner, followUps, logger, checkIntervalMs = 1_000, logMaxBytes }: ProvisioningDeps) {
  return async function deploy(job: Job): Promise<string> {
    const { deploymentId, environmentId } = deployJobSchema.parse(job.data);

    // 1. Claim: QUEUED → IN_PROGRESS, environment → PROVISIONING (first time) or UPDATING.
    const claim = await db.$transaction(async (tx) => {
      const env0 = await tx.environment.findUnique({ where: { id: environmentId } });
      if (!env0) return { skip: 'environment gone' } as const;
      await lockPullRequest(tx, env0.repositoryFullName, env0.prNumber);
      const env = (await tx.environment.findUnique({ where: { id: environmentId } }))!;
      const dep = await tx.deployment.findUnique({ where: { id: deploymentId } });
      if (!dep || dep.status === 'SUCCESS' || dep.status === 'FAILED') return { skip: `deployment ${dep?.status ?? 'gone'}` } as const;
      if (env.status === 'DESTROYING' || env.status === 'DESTROYED') {
        if (env.status === 'DESTROYED' || dep.status === 'IN_PROGRESS') {
          await updateDeploymentStatus(tx, dep.id, 'FAILED', { errorMessage: 'environment is being destroyed' });
          return { skip: 'environment destroyed' } as const;
        }
        // QUEUED while DESTROYING: a reopen; the destroy step brings the environment back when it is done.
        return { skip: 'waiting for destroy' } as const;
      }
      // Waiting for room under MAX_ENVIRONMENTS_PER_REPO: started when another environment is destroyed.
      if (env.waitingSince !== null) return { skip: 'waiting for room in the repository' } as const;
      if (dep.status === 'QUEUED') await updateDeploymentStatus(tx, dep.id, 'IN_PROGRESS');
      let mode: 'provision' | 'update' = env.lastDeployedAt ? 'update' : 'provision';
      if (env.status === 'PENDING') mode = 'provision';
      const next = env.status === 'PROVISIONING' || env.status === 'UPDATING' ? env.status : mode === 'provision' ? 'PROVISIONING' : 'UPDATING';
      const moved = next === env.status ? env : await updateEnvironmentStatus(tx, env.id, next);
      return { env: moved, commitSha: dep.commitSha, mode: moved.status === 'PROVISIONING' ? 'provision' : 'update' } as const;
    });
    if ('skip' in claim) return `skipped: ${claim.skip}`;
    const { env } = claim;
    await followUps.feedbackFor(env.repositoryFullName, env.prNumber);

    // 2. Work, with log lines saved as they come and a watchdog for supersession.
    const logs = logBuffer(db, deploymentId, logMaxBytes);
    const dog = watchdog(async () => {
      const dep = await db.deployment.findUnique({ where: { id: deploymentId }, select: { status: true } });
      return dep?.status === 'IN_PROGRESS';
    }, checkIntervalMs);
    let result;
    try {
      const t = target(env, claim.commitSha);
      result = claim.mode === 'provision'
        ? await provisioner.provision(t, logs.push, dog.signal)
        : await provisioner.update(t, logs.push, dog.signal);
    } catch (err) {
      dog.stop();
      if (dog.signal.aborted) {
        await logs.close();
        return 'abandoned: superseded or closed';
      }
      logs.push(`error: ${describe(err)}`);
      await logs.close();
      if (!isFinalAttempt(job, err)) {
        logger.warn({ deployment_id: deploymentId, attempt: job.attemptsMade + 1, err: describe(err) }, 'deploy failed; retrying');
        throw err;
      }
      await failDeployment(db, env, deploymentId, describe(err));
      await followUps.feedbackFor(env.repositoryFullName, env.prNumber);
      if (err instanceof ProvisionError && !err.transient) throw new UnrecoverableError(describe(err));
      throw err;
    }
    dog.stop();
    await logs.close();

    // 3. Done: SUCCESS and READY, unless the deployment was superseded meanwhile.
    const finished = await db.$transaction(async (tx) => {
      await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
      const dep = await tx.deployment.findUniqueOrThrow({ where: { id: deploymentId } });
      if (dep.status !== 'IN_PROGRESS') return false;
      await updateDeploymentStatus(tx, deploymentId, 'SUCCESS');
      const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
      if (current.status === 'PROVISIONING' || current.status === 'UPDATING') {
        await updateEnvironmentStatus(tx, env.id, 'READY', { environmentUrl: result.url ?? current.environmentUrl });
      }
      return true;
    });
    await followUps.feedbackFor(env.repositoryFullName, env.prNumber);
    return finished ? 'deployed' : 'superseded before completion';
  };
}

async function failDeployment(db: PrismaClient, env: Environment, deploymentId: number, reason: string) {
  await db.$transaction(async (tx) => {
    await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
    const dep = await tx.deployment.findUniqueOrThrow({ where: { id: deploymentId } });
    if (dep.status !== 'IN_PROGRESS') return;
    await updateDeploymentStatus(tx, deploymentId, 'FAILED', { errorMessage: reason });
    const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
    if (current.status === 'PROVISIONING' || current.status === 'UPDATING') {
      await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: reason });
    }
  });
}

function createDestroyStep({ db, provisioner, followUps, logger, maxEnvironmentsPerRepo = 0, logMaxBytes }: ProvisioningDeps) {
  return async function destroy(job: Job): Promise<string> {
    const { environmentId, deploymentId } = destroyJobSchema.parse(job.data);
    const env = await db.environment.findUnique({ where: { id: environmentId } });
    if (!env || env.status !== 'DESTROYING') return `skipped: environment ${env?.status ?? 'gone'}`;
    // The teardown's lines go to the logs of the deployment it ends, so the API shows why a destroy took long.
    const logs = logBuffer(db, deploymentId, logMaxBytes);
    try {
      await provisioner.destroy(target(env, env.commitSha), logs.push, new AbortController().signal);
    } catch (err) {
      logs.push(`error: ${describe(err)}`);
      await logs.close().catch(() => undefined);
      if (!isFinalAttempt(job, err)) {
        logger.warn({ environment_id: environmentId, attempt: job.attemptsMade + 1, err: describe(err) }, 'destroy failed; retrying');
        throw err;
      }
      await db.$transaction(async (tx) => {
        await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
        const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
        if (current.status === 'DESTROYING') {
          await updateEnvironmentStatus(tx, env.id, 'FAILED', { errorMessage: `destroy failed: ${describe(err)}` });
        }
      });
      await followUps.feedbackFor(env.repositoryFullName, env.prNumber);
      throw err instanceof ProvisionError && !err.transient ? new UnrecoverableError(describe(err)) : err;
    }
    await logs.close().catch(() => undefined);

    const comesBack = await db.$transaction(async (tx) => {
      await lockPullRequest(tx, env.repositoryFullName, env.prNumber);
      if (maxEnvironmentsPerRepo > 0) await lockRepository(tx, env.repositoryFullName);
      const current = await tx.environment.findUniqueOrThrow({ where: { id: env.id } });
      if (current.status !== 'DESTROYING') return false;
      await updateEnvironmentStatus(tx, env.id, 'DESTROYED');
      // Reopened while being destroyed: the deployment the reopen queued starts now, or waits its turn.
      const latest = await getLatestDeployment(tx, env.id);
      if (latest?.status === 'QUEUED') {
        await updateEnvironmentStatus(tx, env.id, 'PENDING');
        if (maxEnvironmentsPerRepo > 0 && (await placesTaken(tx, env.repositoryFullName, env.id)) >= maxEnvironmentsPerRepo) {
          await tx.environment.update({ where: { id: env.id }, data: { waitingSince: new Date() } });
        }
        return true;
      }
      return false;
    });
    logger.info({ environment_id: env.id, namespace: env.namespace }, 'environment destroyed');
    await followUps.feedbackFor(env.repositoryFullName, env.prNumber);
    // Its place is free: the oldest environment of the repository waiting for one starts.
    if (maxEnvironmentsPerRepo > 0) {
      for (const started of await startWaiting(db, env.repositoryFullName, maxEnvironmentsPerRepo)) {
        await followUps.afterWaiting(started.repositoryFullName, started.prNumber);
      }
    }
    return comesBack ? 'destroyed, then queued again (reopened)' : 'destroyed';
  };
}
