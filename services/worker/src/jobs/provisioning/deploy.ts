import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job, type JobsOptions } from 'bullmq';
import { environmentKey, type Environment } from '@ephemera/db';
import { PROVISIONING_JOBS, QUEUES, deployJobSchema, type DeployJob } from '@ephemera/schema';
import { environmentAccount } from '../../environment-account.js';
import type { FollowUps } from '../../follow-ups.js';
import { passDeployGate, type GateOutcome } from '../../gate/deploy-gate.js';
import { claimStep, type ClaimedStep } from '../../provisioning/claim-step.js';
import { finishDeployment } from '../../provisioning/finish-deployment.js';
import { describe, isFinalAttempt, isLastAttempt, logBuffer, provisioningRetries, target, watchdog } from '../../provisioning/step-tools.js';
import { ProvisionError } from '../../provisioners/provisioner.js';
import type { JobContext } from '../job-context.js';
import { defineJob } from '../job-definition.js';

/** A deploy's job id: one job per deployment, so queueing it again adds nothing. */
export function deployJobId(deploymentId: number): string {
  return `deploy-${deploymentId}`;
}

/** The look at a waiting deployment's gate at its deadline: one per deployment. */
export function gateDeadlineJobId(deploymentId: number): string {
  return `gate-deadline-${deploymentId}`;
}

/**
 * Another look at a deployment's deploy gate (a check of its commit concluded, or the poll): the deploy step, under
 * an id of its own, since the deployment's deploy job already ran. Looks asked for while one waits are absorbed by
 * it, and one asked for while one runs follows it.
 */
export function gateCheckOptions(job: DeployJob): JobsOptions {
  const dedupId = `gate-${job.deploymentId}`;
  return { jobId: `${dedupId}-${randomUUID()}`, deduplication: { id: dedupId, keepLastIfActive: true } };
}

/** The look at a waiting deployment's gate at its deadline, which fails it if it still waits then. */
export function gateDeadlineOptions(job: DeployJob, at: Date): JobsOptions {
  return { jobId: gateDeadlineJobId(job.deploymentId), delay: Math.max(0, at.getTime() - Date.now()) + 100 };
}

/** `provisioning.deploy`: a deployment applied to the cluster, after its deploy gate lets it through. */
export const deployJob = defineJob({
  queue: QUEUES.provisioning,
  name: PROVISIONING_JOBS.deploy,
  schema: deployJobSchema,
  options: (data, settings) => ({ ...provisioningRetries(settings), jobId: deployJobId(data.deploymentId) }),
  account: (data, ctx) => environmentAccount(ctx.db, data.environmentId),
  handle: (data, ctx, job) => deploy(ctx, data, job),
});

async function deploy(ctx: JobContext, { deploymentId, environmentId }: DeployJob, job: Job): Promise<string> {
  const { db, gate, settings } = ctx;
  // 0. The deploy gate: a deployment whose commit's checks have not passed waits, or fails, without being applied.
  const passed: GateOutcome = gate
    ? await passDeployGate(
        { ...gate, db, followUps: ctx.followUps, logger: ctx.logger, logMaxBytes: settings.logMaxBytes, metrics: ctx.metrics, minuteMs: ctx.timing.gateMinuteMs },
        { deploymentId, environmentId },
        { final: isLastAttempt(job) },
      )
    : { proceed: true };
  if (!passed.proceed) return passed.result;
  // 1. Claim the deployment.
  const claim = await claimStep(db, { environmentId, deploymentId }, job.id === deployJobId(deploymentId));
  if ('skip' in claim) return `skipped: ${claim.skip}`;
  return runStep(ctx, deploymentId, claim, passed, job);
}

/** 2. Work, with log lines saved as they come and a watchdog for supersession; 3. done, or failed. */
async function runStep(ctx: JobContext, deploymentId: number, claim: ClaimedStep, passed: GateOutcome & { proceed: true }, job: Job): Promise<string> {
  const { db, provisioner, followUps, logger } = ctx;
  const logMaxBytes = ctx.settings.logMaxBytes;
  const { env } = claim;
  // "Deploying" is worth a report only if the deploy outlasts the feedback delay; a quicker one is reported once, done.
  const started = setTimeout(() => void feedback(followUps, env).catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not queue feedback')), followUps.feedbackDelay);
  const logs = logBuffer(db, deploymentId, logMaxBytes);
  const dog = watchdog(async () => {
    const dep = await db.deployment.findUnique({ where: { id: deploymentId }, select: { status: true } });
    return dep?.status === 'IN_PROGRESS';
  }, ctx.timing.checkIntervalMs ?? 1_000);
  let result;
  try {
    const t = target(env, claim.commitSha, { deploymentId, restartedAt: claim.restartedAt, ...(passed.config ? { config: passed.config } : {}) });
    result = claim.mode === 'provision' ? await provisioner.provision(t, logs.push, dog.signal) : await provisioner.update(t, logs.push, dog.signal);
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
    await finishDeployment(db, env, deploymentId, { to: 'FAILED', errorMessage: describe(err), logs: logs.drain(), logMaxBytes, keepReady: serving });
    await feedback(followUps, env);
    if (err instanceof ProvisionError && !err.transient) throw new UnrecoverableError(describe(err));
    throw err;
  }
  dog.stop();
  clearTimeout(started);
  // 3. Done: SUCCESS and READY, unless the deployment was superseded meanwhile.
  const finished = await finishDeployment(db, env, deploymentId, { to: 'SUCCESS', url: result.url, logs: logs.drain(), logMaxBytes, afterCreateRan: result.afterCreateRan === true });
  await feedback(followUps, env);
  return finished ? 'deployed' : 'superseded before completion';
}

function feedback(followUps: FollowUps, env: Environment): Promise<void> {
  return followUps.feedback(environmentKey(env), Number(env.installationId) || null);
}
