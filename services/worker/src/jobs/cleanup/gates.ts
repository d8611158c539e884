import { listWaitingDeployments } from '@ephemera/db';
import { CLEANUP_JOBS } from '@ephemera/schema';
import { isServed } from '../../environment-account.js';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/**
 * `cleanup.gates`, every GATE_POLL_INTERVAL_MS (0: never), with the deploy gate only: PROVISIONER=none never waits.
 */
export const gatesJob = sweepJob(CLEANUP_JOBS.gates, { id: 'gate-poll', every: (s, ctx) => (ctx.gate ? s.GATE_POLL_INTERVAL_MS : 0) }, pollGates);

/**
 * Every deployment waiting for its commit's checks gets a look at its gate (the deploy step, deduplicated per
 * deployment), so a check event GitHub never delivered delays a deploy by at most one interval.
 */
export async function pollGates({ db, followUps, metrics, accounts }: JobContext): Promise<string> {
  let waiting = await listWaitingDeployments(db);
  if (!accounts.any) {
    const ids = [...new Set(waiting.map((d) => d.environmentId))];
    const envs = await db.environment.findMany({ where: { id: { in: ids } }, select: { id: true, repositoryFullName: true } });
    const served = new Set(envs.filter((e) => isServed(accounts, e)).map((e) => e.id));
    waiting = waiting.filter((d) => served.has(d.environmentId));
  }
  for (const d of waiting) await followUps.gateCheck({ environmentId: d.environmentId, deploymentId: d.id });
  metrics.gatePolls.inc(waiting.length);
  return `looked again at ${waiting.length} waiting deployment(s)`;
}

