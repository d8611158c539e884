import { GITHUB_SYNC_JOBS } from '@ephemera/schema';
import { redeliverLost } from '../../github/redelivery.js';
import { githubSyncJob } from '../sweep-job.js';

/** Lost deliveries asked for again, every REDELIVERY_INTERVAL_MS (0: never): see `redeliverLost`. */
export const redeliverJob = githubSyncJob(GITHUB_SYNC_JOBS.redeliver, { id: 'redelivery', every: (s) => s.REDELIVERY_INTERVAL_MS }, (ctx, clients) =>
  redeliverLost({ ...ctx, clients, webhooks: ctx.queues.webhooks, prefix: ctx.config.QUEUE_PREFIX, requested: ctx.metrics.redeliveriesRequested }),
);
