import { pruneProcessedDeliveries } from '@ephemera/db';
import { CLEANUP_JOBS } from '@ephemera/schema';
import type { JobContext } from '../job-context.js';
import { sweepJob } from '../sweep-job.js';

/** `cleanup.prune`, every CLEANUP_INTERVAL_MS: see {@link pruneData}. */
export const pruneJob = sweepJob(CLEANUP_JOBS.prune, { id: 'cleanup-prune', every: (s) => s.CLEANUP_INTERVAL_MS }, pruneData);

/**
 * Keeps the data bounded: delivery ids older than DELIVERY_RETENTION_DAYS (with their redelivery counts) and
 * environments destroyed longer ago than DESTROYED_RETENTION_DAYS (with their deployments) are deleted, in
 * batches so no statement holds many rows at once.
 */
export async function pruneData({ db, logger, config }: JobContext): Promise<string> {
  const deliveriesBefore = new Date(Date.now() - config.DELIVERY_RETENTION_DAYS * 86_400_000);
  const deliveries = await pruneProcessedDeliveries(db, deliveriesBefore);
  await db.redeliveryRequest.deleteMany({ where: { lastRequestedAt: { lt: deliveriesBefore } } });
  let environments = 0;
  if (config.DESTROYED_RETENTION_DAYS > 0) {
    const destroyedBefore = new Date(Date.now() - config.DESTROYED_RETENTION_DAYS * 86_400_000);
    for (;;) {
      const batch = await db.environment.findMany({ where: { status: 'DESTROYED', destroyedAt: { lt: destroyedBefore } }, select: { id: true }, take: 500 });
      if (batch.length === 0) break;
      // Deployments go with them (ON DELETE CASCADE); the status is checked again in the delete itself.
      const { count } = await db.environment.deleteMany({ where: { id: { in: batch.map((b) => b.id) }, status: 'DESTROYED' } });
      environments += count;
      if (batch.length < 500) break;
    }
  }
  if (deliveries + environments > 0) logger.info({ deliveries, environments }, 'old data pruned');
  return `pruned ${deliveries} delivery ids, ${environments} destroyed environments`;
}

