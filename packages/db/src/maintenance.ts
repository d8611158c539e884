import type { Db } from './db-client.js';
import { Prisma } from './generated/prisma/client.js';
import { repositoryIdentity, type RepositoryRef } from './repository-identity.js';

// The scheduled sweeps' queries that Prisma's query builder cannot express.

/** READY or FAILED environments whose newest deployment (one per push) is older than `cutoff`: no push for the TTL. */
export async function findIdleEnvironments(db: Db, cutoff: Date, limit = 500): Promise<number[]> {
  const rows = await db.$queryRaw<Array<{ id: number }>>`
    SELECT e.id
      FROM environments e
     WHERE e.status IN ('READY', 'FAILED')
       AND COALESCE((SELECT max(d.created_at) FROM deployments d WHERE d.environment_id = e.id), e.created_at) < ${cutoff}
     LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

/** Deletes delivery ids recorded before `before`, in batches so no statement holds many rows; how many went. */
export async function pruneProcessedDeliveries(db: Db, before: Date, batch = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await db.$executeRaw`
      DELETE FROM processed_deliveries WHERE delivery_id IN (
        SELECT delivery_id FROM processed_deliveries WHERE processed_at < ${before} LIMIT ${batch})`;
    deleted += n;
    if (n < batch) return deleted;
  }
}

/**
 * Serialises counting and starting a repository's environments under MAX_ENVIRONMENTS_PER_REPO (besides each PR's
 * own lock), keyed like pull requests on the repository's id.
 */
export async function lockRepository(tx: Db, repository: RepositoryRef): Promise<void> {
  const key = `repository:${repositoryIdentity(repository)}`;
  await tx.$executeRaw(Prisma.sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}
