import { UnrecoverableError, type Job } from 'bullmq';
import {
  appendDeploymentLogs,
  claimDeployment,
  environmentKey,
  lockEnvironmentPullRequest,
  moveDeployment,
  readDeployment,
  updateEnvironmentStatus,
  type Environment,
  type PrismaClient,
} from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { PROVISIONING_JOBS, QUEUES, deployJobSchema, type DeployJob, type EnvironmentStatus } from '@ephemera/schema';
import { environmentAccount } from '../environment-account.js';
import { deployJobId, type FollowUps } from '../follow-ups.js';
import { passDeployGate, type DeployGateDeps } from '../gate/deploy-gate.js';
import { defineJob, type JobDefinition } from '../jobs/job-registry.js';
import { ProvisionError, StepAbandoned, type ProvisionTarget, type Provisioner } from '../provisioners/provisioner.js';
import { teardownJobs } from './teardown.js';

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
  /** The deploy gate (`deploy.wait_for`): absent with PROVISIONER=none, which reads no configuration and never waits. */
  gate?: Pick<DeployGateDeps, 'configs' | 'reader' | 'metrics' | 'minuteMs'>;
}

/** Deploys and destroys, one job each. */
export function provisioningJobs(deps: ProvisioningDeps): JobDefinition[] {
  return [
    defineJob({
      queue: QUEUES.provisioning,
      name: PROVISIONING_JOBS.deploy,
      schema: deployJobSchema,
      account: (data) => environmentAccount(deps.db, data.environmentId),
      handle: createDeployStep(deps),
    }),
    ...teardownJobs(deps),
  ];
}

export function target(env: Environment, commitSha: string, extra: Pick<ProvisionTarget, 'config' | 'restartedAt' | 'deploymentId'> = {}): ProvisionTarget {
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
    afterCreateSucceeded: env.afterCreateSucceededAt != null,
    ...extra,
  };
}

function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function isFinalAttempt(job: Job, err: unknown): boolean {
  if (err instanceof ProvisionError && !err.transient) return true;
  return isLastAttempt(job);
}

export function describe(err: unknown): string {
  if (err instanceof ProvisionError && err.events.length > 0) return `${err.message} (${err.events.join('; ')})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Collects log lines and appends them to the deployment in batches, not one write per line. `drain` stops it and
 * hands back what is left, for the step's final statement to write with the status.
 */
export function logBuffer(db: PrismaClient, deploymentId: number | null, maxBytes?: number) {
  let lines: string[] = [];
  const take = () => {
    const text = lines.join('');
    lines = [];
    return text;
  };
  const flush = async () => {
    if (lines.length === 0 || deploymentId === null) return;
    await appendDeploymentLogs(db, deploymentId, take(), maxBytes);
  };
  const timer = setInterval(() => void flush().catch(() => undefined), 1_000);
  return {
    push: (line: string) => void lines.push(`${new Date().toISOString()} ${line}\n`),
    drain(): string {
      clearInterval(timer);
      return take();
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

/** Aborts the step when `stillWanted` turns false: a newer push superseded it or the PR was closed. */
function watchdog(stillWanted: () => Promise<boolean>, intervalMs: number) {
  const controller = new AbortController();
  let stopped = false;
  const timer = setInterval(() => {
    stillWanted().then(
      // A check still under way when the step ended (and moved the deployment on) must not abort it afterwards.
      (ok) => ok || stopped || controller.abort(new StepAbandoned('no longer wanted')),
      () => undefined,
    );
  }, intervalMs);
  return {
    signal: controller.signal,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

function createDeployStep({ db, provisioner, followUps, logger, checkIntervalMs = 1_000, logMaxBytes, gate }: ProvisioningDeps) {
  const gateDeps: DeployGateDeps | undefined = gate && { ...gate, db, followUps, logger, logMaxBytes };
  return async function deploy({ deploymentId, environmentId }: DeployJob, job: Job): Promise<string> {
    // 0. The deploy gate: a deployment whose commit's checks have not passed waits, or fails, without being applied.
    const passed = gateDeps ? await passDeployGate(gateDeps, { deploymentId, environmentId }, { final: isLastAttempt(job) }) : { proceed: true as const };
    if (!passed.proceed) return passed.result;
    // 1. Claim: QUEUED (or WAITING, its gate open) → IN_PROGRESS, environment → PROVISIONING (first time) or UPDATING;
    // one statement when it applies, and otherwise a transaction that finds out why not.
    const fast = await claimDeployment(db, environmentId, deploymentId);
    // Only the deployment's own deploy job takes up one left IN_PROGRESS (its earlier run died): a look at its gate
    // that found it open while another job already deploys it must not deploy it twice.
    const resumable = job.id === deployJobId(deploymentId);
    const claim = fast
      ? ({ env: fast.environment, commitSha: fast.commitSha, restartedAt: fast.restartedAt, mode: fast.environment.status === 'PROVISIONING' ? 'provision' : 'update' } as const)
      : await db.$transaction(async (tx) => {
      if (!(await lockEnvironmentPullRequest(tx, environmentId))) return { skip: 'environment gone' } as const;
      const { environment: env, deployment: dep } = await readDeployment(tx, environmentId, deploymentId);
      if (!env || !dep || dep.status === 'SUCCESS' || dep.status === 'FAILED') return { skip: `deployment ${dep?.status ?? 'gone'}` } as const;
      if (env.status === 'DESTROYING' || env.status === 'DESTROYED') {
        if (env.status === 'DESTROYED' || dep.status === 'IN_PROGRESS') {
          await moveDeployment(tx, { deploymentId, from: [dep.status], to: 'FAILED', errorMessage: 'environment is being destroyed' });
          return { skip: 'environment destroyed' } as const;
        }
        // QUEUED while DESTROYING: a reopen; the destroy step brings the environment back when it is done.
        return { skip: 'waiting for destroy' } as const;
      }
      // Waiting for room under MAX_ENVIRONMENTS_PER_REPO: started when another environment is destroyed.
      if (env.waitingSince !== null) return { skip: 'waiting for room in the repository' } as const;
      if (dep.status === 'IN_PROGRESS' && !resumable) return { skip: 'already being deployed' } as const;
      const mode = env.status === 'PENDING' || !env.lastDeployedAt ? 'provision' : 'update';
      const next: EnvironmentStatus =
        env.status === 'PROVISIONING' || env.status === 'UPDATING' ? env.status : mode === 'provision' ? 'PROVISIONING' : 'UPDATING';
      const envMove = next === env.status ? undefined : { id: env.id, from: [env.status], to: next };
      if (dep.status === 'QUEUED' || dep.status === 'WAITING') {
        await moveDeployment(tx, { deploymentId, from: [dep.status], to: 'IN_PROGRESS', ...(envMove ? { environment: envMove } : {}) });
      }
      // A deployment left IN_PROGRESS by a job that died is taken up again as it is.
      else if (envMove) await updateEnvironmentStatus(tx, env.id, next);
      const restarted = await tx.deployment.findFirst({ where: { environmentId, restart: true }, orderBy: { id: 'desc' }, select: { createdAt: true } });
      return { env: { ...env, status: next }, commitSha: dep.commitSha, restartedAt: restarted?.createdAt ?? null, mode: next === 'PROVISIONING' ? 'provision' : 'update' } as const;
        });
    if ('skip' in claim) return `skipped: ${claim.skip}`;
    const { env } = claim;
    // "Deploying" is worth a report only if the deploy outlasts the feedback delay; a quicker one is reported once, done.
    const started = setTimeout(() => void feedback(followUps, env).catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not queue feedback')), followUps.feedbackDelay);

    // 2. Work, with log lines saved as they come and a watchdog for supersession.
    const logs = logBuffer(db, deploymentId, logMaxBytes);
    const dog = watchdog(async () => {
      const dep = await db.deployment.findUnique({ where: { id: deploymentId }, select: { status: true } });
      return dep?.status === 'IN_PROGRESS';
    }, checkIntervalMs);
    let result;
    try {
      const t = target(env, claim.commitSha, { deploymentId, restartedAt: claim.restartedAt, ...(passed.config ? { config: passed.config } : {}) });
      result = claim.mode === 'provision'
        ? await provisioner.provision(t, logs.push, dog.signal)
        : await provisioner.update(t, logs.push, dog.signal);
    } catch (err) {
      dog.stop();
      clearTimeout(started);
      if (dog.signal.aborted) {
        await logs.close();
        return 'abandoned: superseded or closed';
      }
      logs.push(`error: ${describe(err)}`);
      if (!isFinalAttempt(job, err)) {
        await logs.close();
        logger.warn({ deployment_id: deploymentId, attempt: job.attemptsMade + 1, err: describe(err) }, 'deploy failed; retrying');
        throw err;
      }
      // A release step that failed before the services rolled leaves a running preview serving its previous version.
      const serving = err instanceof ProvisionError && err.previousServing && claim.mode === 'update';
      await finish(db, env, deploymentId, { to: 'FAILED', errorMessage: describe(err), logs: logs.drain(), logMaxBytes, keepReady: serving });
      await feedback(followUps, env);
      if (err instanceof ProvisionError && !err.transient) throw new UnrecoverableError(describe(err));
      throw err;
    }
    dog.stop();
    clearTimeout(started);

    // 3. Done: SUCCESS and READY, unless the deployment was superseded meanwhile.
    const finished = await finish(db, env, deploymentId, { to: 'SUCCESS', url: result.url, logs: logs.drain(), logMaxBytes, afterCreateRan: result.afterCreateRan === true });
    await feedback(followUps, env);
    return finished ? 'deployed' : 'superseded before completion';
  };
}

function feedback(followUps: FollowUps, env: Environment): Promise<void> {
  return followUps.feedback(environmentKey(env), Number(env.installationId) || null);
}

/**
 * Ends a running deployment, with its last log lines, and moves the environment with it (READY, or FAILED with the
 * reason) unless the deployment was superseded or the environment left PROVISIONING / UPDATING meanwhile: one
 * statement that takes the pull request's lock itself. False when the deployment was no longer running.
 */
async function finish(
  db: PrismaClient,
  env: Environment,
  deploymentId: number,
  end: { to: 'SUCCESS' | 'FAILED'; errorMessage?: string; url?: string | null | undefined; logs: string; logMaxBytes: number | undefined; keepReady?: boolean; afterCreateRan?: boolean },
): Promise<boolean> {
  const moved = await moveDeployment(db, {
      lock: true,
      // Lost to a database crash, the deployment stays IN_PROGRESS and the stuck sweep deploys it again.
      asyncCommit: true,
      deploymentId,
      from: ['IN_PROGRESS'],
      to: end.to,
      errorMessage: end.errorMessage ?? null,
      appendLogs: end.logs,
      ...(end.logMaxBytes !== undefined ? { maxLogBytes: end.logMaxBytes } : {}),
      environment: {
        id: env.id,
        from: ['PROVISIONING', 'UPDATING'],
        to: end.to === 'SUCCESS' || end.keepReady ? 'READY' : 'FAILED',
        change:
          end.to === 'SUCCESS'
            ? { ...(end.url ? { environmentUrl: end.url } : {}), ...(end.afterCreateRan ? { afterCreateSucceededAt: new Date() } : {}) }
            : end.keepReady
              ? {}
              : { errorMessage: end.errorMessage ?? null },
      },
    });
  // Superseded meanwhile: its lines are still kept.
  if (!moved.deployment && end.logs) await appendDeploymentLogs(db, deploymentId, end.logs, end.logMaxBytes);
  return moved.deployment;
}
