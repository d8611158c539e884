import { GITHUB_SYNC_JOBS } from '@ephemera/schema';
import { resyncWithGithub } from '../../github/resync.js';
import { githubSyncJob } from '../sweep-job.js';

/** The state converged on GitHub's pull requests and installations, every RESYNC_INTERVAL_MS (0: never): see `resyncWithGithub`. */
export const resyncJob = githubSyncJob(GITHUB_SYNC_JOBS.resync, { id: 'resync', every: (s) => s.RESYNC_INTERVAL_MS }, (ctx, clients) =>
  resyncWithGithub({ ...ctx, clients, corrections: ctx.metrics.resyncCorrections }),
);
