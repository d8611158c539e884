import { randomUUID } from 'node:crypto';
import { PROVISIONING_JOBS, QUEUES, teardownSweepJobSchema, type TeardownSweepJob } from '@ephemera/schema';
import { appendToLatest, failTeardown, finishTeardown } from '../../provisioning/teardown-steps.js';
import { provisioningRetries } from '../../provisioning/step-tools.js';
import type { JobContext } from '../job-context.js';
import { defineJob } from '../job-definition.js';

/**
 * `provisioning.teardowns`: one labelled list of the installation's namespaces per pass, which moves each
 * environment being destroyed to DESTROYED when its namespace is gone, or to FAILED past DESTROY_TIMEOUT_SECONDS,
 * and looks again later while any remain. Queued after a back-off that grows with `attempt` (from the first look's
 * wait, 2 s unless tests shorten it, up to 30 s); destroys asking for one while one waits share it, and one asked
 * for while one runs follows it.
 */
export const teardownsJob = defineJob({
  queue: QUEUES.provisioning,
  name: PROVISIONING_JOBS.teardowns,
  schema: teardownSweepJobSchema,
  options: ({ attempt }, settings) => ({
    ...provisioningRetries(settings),
    jobId: `teardowns-${randomUUID()}`,
    delay: Math.min(30_000, (settings.timing.teardownCheckMs ?? 2_000) * 2 ** Math.min(attempt, 10)),
    deduplication: { id: 'teardowns', keepLastIfActive: true },
  }),
  account: null,
  handle: (data, ctx) => sweepTeardowns(ctx, data),
});

/** One pass of the teardown sweep; another follows while a namespace is still being deleted. */
async function sweepTeardowns(deps: JobContext, { attempt }: TeardownSweepJob): Promise<string> {
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

