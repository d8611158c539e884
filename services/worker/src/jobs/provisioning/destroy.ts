import { UnrecoverableError, type Job } from 'bullmq';
import { PROVISIONING_JOBS, QUEUES, destroyJobSchema, type DestroyJob } from '@ephemera/schema';
import { failTeardown, finishTeardown } from '../../provisioning/teardown-steps.js';
import { describe, isFinalAttempt, logBuffer, provisioningRetries, target } from '../../provisioning/step-tools.js';
import { ProvisionError } from '../../provisioners/provisioner.js';
import type { JobContext } from '../job-context.js';
import { defineJob } from '../job-definition.js';

/** A destroy's job id: the latest deployment is part of it, so a teardown asked for after a reopen is a new job. */
export function destroyJobId(environmentId: number, deploymentId: number | null): string {
  return `destroy-${environmentId}-${deploymentId ?? 0}`;
}

/**
 * `provisioning.destroy`: a teardown, without holding a provisioning slot while a namespace takes its time. It asks
 * for the deletion and looks once; a namespace still Terminating is followed by the teardown sweep
 * (`provisioning.teardowns`). A teardown only removes, whoever's the environment: one of an account no longer
 * allowed still goes.
 */
export const destroyJob = defineJob({
  queue: QUEUES.provisioning,
  name: PROVISIONING_JOBS.destroy,
  schema: destroyJobSchema,
  options: (data, settings) => ({ ...provisioningRetries(settings), jobId: destroyJobId(data.environmentId, data.deploymentId) }),
  account: null,
  handle: (data, ctx, job) => destroy(ctx, data, job),
});

async function destroy(deps: JobContext, { environmentId, deploymentId }: DestroyJob, job: Job): Promise<string> {
  const { db, provisioner, followUps, logger } = deps;
  const logMaxBytes = deps.settings.logMaxBytes;
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

