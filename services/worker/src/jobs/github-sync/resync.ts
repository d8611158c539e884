import { GITHUB_SYNC_JOBS, QUEUES } from '@ephemera/schema';
import { resyncWithGithub } from '../../github/resync.js';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/** The state converged on GitHub's pull requests and installations, every RESYNC_INTERVAL_MS (0: never): see `resyncWithGithub`. */
export const resyncJob = sweepJob(GITHUB_SYNC_JOBS.resync, { id: 'resync', every: (s) => s.RESYNC_INTERVAL_MS }, resync, QUEUES.githubSync);

function resync(ctx: JobContext): Promise<string> {
  if (!ctx.clients) return Promise.resolve('skipped: no App credentials');
  return resyncWithGithub({
    db: ctx.db,
    clients: ctx.clients,
    settings: ctx.settings,
    followUps: ctx.followUps,
    accounts: ctx.accounts,
    logger: ctx.logger,
    corrections: ctx.metrics.resyncCorrections,
  });
}
