import { GITHUB_SYNC_JOBS, QUEUES } from '@ephemera/schema';
import { redeliverLost } from '../../github/redelivery.js';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/** Lost deliveries asked for again, every REDELIVERY_INTERVAL_MS (0: never): see `redeliverLost`. */
export const redeliverJob = sweepJob(GITHUB_SYNC_JOBS.redeliver, { id: 'redelivery', every: (s) => s.REDELIVERY_INTERVAL_MS }, redeliver, QUEUES.githubSync);

function redeliver(ctx: JobContext): Promise<string> {
  if (!ctx.clients) return Promise.resolve('skipped: no App credentials');
  return redeliverLost({
    db: ctx.db,
    clients: ctx.clients,
    webhooks: ctx.queues.webhooks,
    redis: ctx.redis,
    prefix: ctx.config.QUEUE_PREFIX,
    accounts: ctx.accounts,
    logger: ctx.logger,
    requested: ctx.metrics.redeliveriesRequested,
  });
}
