import type { Queue } from 'bullmq';
import type { ActionTarget } from '@ephemera/db';
import type { JobSigner, RenewingQueue } from '@ephemera/runtime';
import { ACTION_APPLIES_TO, ENVIRONMENT_ACTIONS, QUEUES, type EnvironmentAction, type EnvironmentActionJob } from '@ephemera/schema';

/**
 * Options of every action job, in the style of the webhook jobs': attempts and backoff outlast a database or
 * worker outage of a few minutes (an action asked for is still wanted when it lands), and retention is bounded
 * yet keeps failed jobs long enough to inspect. The job id is the request id, given per job.
 */
const ACTION_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
} as const;

/**
 * Why `action` does not apply to the environment (the API's 409), or null when it does. The worker checks again
 * under the pull request's lock when the job runs, since the environment may move meanwhile.
 */
export function actionRefusal(action: EnvironmentAction, id: number, target: ActionTarget): string | null {
  if (target.status === 'DESTROYED') return `environment ${id} is already destroyed`;
  if (target.status === 'DESTROYING' || target.destroyRequested) return `environment ${id} is being destroyed`;
  if (target.prState === 'closed') return `the pull request of environment ${id} is closed: its preview goes with it, and comes back if it is reopened`;
  const applies = ACTION_APPLIES_TO[action];
  if (!applies.includes(target.status)) {
    return `environment ${id} is ${target.status}: ${action} applies to ${applies.join(', ')} environments`;
  }
  return null;
}

/** Well inside a browser's or script's patience, and long enough for a Redis that is slow rather than gone. */
export const DEFAULT_ENQUEUE_TIMEOUT_MS = 3_000;

export class EnqueueTimeoutError extends Error {
  override readonly name = 'EnqueueTimeoutError';
}

/**
 * Adds the action's job (job id = request id), signed with QUEUE_SIGNING_KEY, or throws when Redis refuses it or
 * does not answer within `timeoutMs`. The caller then answers 503: a job that Redis takes after the time is up is
 * removed again, so that the 503 means nothing was queued.
 */
export async function enqueueAction(
  queues: RenewingQueue<Queue>,
  signer: JobSigner,
  action: EnvironmentAction,
  job: EnvironmentActionJob,
  timeoutMs: number,
): Promise<void> {
  let abandoned = false;
  const name = ENVIRONMENT_ACTIONS[action];
  const data = signer.sign(QUEUES.actions, name, job);
  const adding = queues.usable().then((queue) => queue.add(name, data, { ...ACTION_JOB_OPTIONS, jobId: job.requestId }));
  void adding.then(
    (added) => (abandoned ? added.remove().catch(() => undefined) : undefined),
    () => undefined,
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      adding,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned = true;
          reject(new EnqueueTimeoutError(`Redis did not take the job within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
