import { IllegalTransitionError, canTransitionEnvironment } from '@ephemera/schema';
import type { Db } from './db-client.js';
import type { Environment } from './generated/prisma/client.js';
import { LOCK_KEY_SQL } from './lock-key.js';
import { environmentFromJson } from './model-from-json.js';
import { ENVIRONMENT_COLUMNS } from './read-pull-request.js';

// The claim's moves, which its statement writes as a CASE: checked against the state machine when this loads.
for (const [from, to] of [['PENDING', 'PROVISIONING'], ['FAILED', 'PROVISIONING'], ['READY', 'UPDATING'], ['FAILED', 'UPDATING']] as const) {
  if (!canTransitionEnvironment(from, to)) throw new IllegalTransitionError('environment', from, to);
}

/**
 * The deploy step's claim in one statement, outside a transaction: a QUEUED deployment (or a WAITING one whose gate
 * has opened) becomes IN_PROGRESS and its
 * environment PROVISIONING (first deployment) or UPDATING, under the pull request's lock taken in the statement.
 * The deployment row is locked (`FOR UPDATE`, which reads its latest version) and the environment's conditions are
 * on the row it updates, so what a webhook committed while this waited for the lock is what is checked. Null when
 * nothing was claimed (the deployment is no longer QUEUED, the environment is being destroyed or waits for room):
 * the caller then looks at why under a transaction.
 */
export async function claimDeployment(
  db: Db,
  environmentId: number,
  deploymentId: number,
): Promise<{ environment: Environment; commitSha: string; restartedAt: Date | null } | null> {
  const now = new Date();
  const rows = await db.$queryRaw<Array<{ env: Record<string, unknown> | null; commit_sha: string | null; restarted_at: Date | null }>>`
    WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended(${LOCK_KEY_SQL}, 0)) FROM environments e WHERE e.id = ${environmentId}),
    d0 AS (
      SELECT id FROM deployments
       WHERE id = ${deploymentId} AND environment_id = ${environmentId} AND status IN ('QUEUED', 'WAITING') AND EXISTS (SELECT 1 FROM l)
         FOR UPDATE),
    env AS (
      UPDATE environments e
         SET status = CASE WHEN e.status IN ('PROVISIONING', 'UPDATING') THEN e.status
                           WHEN e.status = 'PENDING' OR e.last_deployed_at IS NULL THEN 'PROVISIONING'::environment_status
                           ELSE 'UPDATING'::environment_status END,
             error_message = CASE WHEN e.status IN ('PROVISIONING', 'UPDATING') THEN e.error_message END,
             destroy_requested_at = NULL,
             updated_at = ${now}
       WHERE e.id = ${environmentId} AND e.status IN ('PENDING', 'READY', 'FAILED', 'PROVISIONING', 'UPDATING')
         AND e.waiting_since IS NULL AND EXISTS (SELECT 1 FROM d0)
      RETURNING ${ENVIRONMENT_COLUMNS}),
    dep AS (
      UPDATE deployments SET status = 'IN_PROGRESS', started_at = ${now}, updated_at = ${now}
       WHERE id IN (SELECT id FROM d0) AND EXISTS (SELECT 1 FROM env) RETURNING commit_sha)
    SELECT (SELECT row_to_json(env) FROM env) AS env, (SELECT commit_sha FROM dep) AS commit_sha,
           (SELECT max(created_at) FROM deployments WHERE environment_id = ${environmentId} AND restart) AS restarted_at`;
  const row = rows[0]!;
  if (!row.env || row.commit_sha === null) return null;
  return { environment: environmentFromJson(db, row.env), commitSha: row.commit_sha, restartedAt: row.restarted_at };
}
