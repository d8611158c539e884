import { environmentKey, findIdleEnvironments, lockEnvironmentPullRequest, setPullRequestNote, updateEnvironmentStatus } from '@ephemera/db';
import { CLEANUP_JOBS } from '@ephemera/schema';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/** `cleanup.idle`, every CLEANUP_INTERVAL_MS: see {@link destroyIdle}. */
export const idleJob = sweepJob(CLEANUP_JOBS.idle, { id: 'cleanup-idle', every: (s) => s.CLEANUP_INTERVAL_MS }, destroyIdle);

/**
 * Environments without a push for ENVIRONMENT_TTL_HOURS are destroyed, with a comment on how to bring them back.
 */
export async function destroyIdle({ db, followUps, logger, config }: JobContext): Promise<string> {
  const ttlHours = config.ENVIRONMENT_TTL_HOURS;
  const cutoff = new Date(Date.now() - ttlHours * 3600_000);
  const note = `This preview had no push for ${ttlHours} hours and was removed to free resources. Push a commit or reopen the pull request to bring it back.`;
  let destroyed = 0;
  for (const id of await findIdleEnvironments(db, cutoff)) {
    const moved = await db.$transaction(async (tx) => {
      await lockEnvironmentPullRequest(tx, id);
      const current = await tx.environment.findUniqueOrThrow({ where: { id } });
      if (current.status !== 'READY' && current.status !== 'FAILED') return null;
      await updateEnvironmentStatus(tx, id, 'DESTROYING');
      await setPullRequestNote(tx, environmentKey(current), note);
      return current;
    });
    if (!moved) continue;
    destroyed++;
    await followUps.after(environmentKey(moved));
  }
  if (destroyed > 0) logger.info({ destroyed, ttl_hours: ttlHours }, 'idle environments destroyed');
  return `destroyed ${destroyed} idle environment(s)`;
}

