import type { Db } from './db-client.js';
import { DEFAULT_LOG_MAX_BYTES } from './deployments.js';
import { Prisma } from './generated/prisma/client.js';
import { LOCK_KEY_SQL, pullRequestLockKey, type PullRequestKey } from './lock-key.js';
import { ofPullRequest } from './read-pull-request.js';
import { repositoryNamedSql } from './repository-identity.js';

export { pullRequestLockKey, type PullRequestKey };
export { getEnvironmentByPr, readDeployment, readPullRequest, type DeploymentRef, type PullRequestRecord } from './read-pull-request.js';
export { writePullRequest } from './write-pull-request.js';
export type { EnvironmentFields, EnvironmentInsert, OptimisticWrite, PullRequestStateFields, PullRequestWrite, PullRequestWritten } from './pull-request-write.js';
export { claimDeployment } from './claim-deployment.js';

// The worker's hot path: what one webhook, one deploy step or one feedback job reads and writes, in as few
// statements as the rules allow. Every write here runs under the pull request's advisory lock, inside the
// caller's transaction; state-machine rules are checked in code against the row read under that lock, and the
// statements repeat the check in their WHERE so a bug cannot write an illegal move silently. This module holds
// the locks and the small writes; reading a pull request, writing one event's decision and claiming a deployment
// have modules of their own.

export async function lockPullRequest(tx: Db, key: PullRequestKey): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${pullRequestLockKey(key)}, 0))`;
}

/** Takes the lock of an environment's pull request; false when the environment does not exist. */
export async function lockEnvironmentPullRequest(tx: Db, environmentId: number): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`
    SELECT 1 FROM environments e, LATERAL (SELECT pg_advisory_xact_lock(hashtextextended(${LOCK_KEY_SQL}, 0))) l WHERE e.id = ${environmentId}`;
  return rows.length > 0;
}

/**
 * Records a webhook delivery as applied and, when it is new, takes its pull request's lock: one statement. False
 * for a delivery already applied (a retry or a redelivery), which then changes nothing.
 */
export async function recordDelivery(
  tx: Db,
  delivery: { deliveryId: string; event: string; action: string | null },
  lock: PullRequestKey | null,
): Promise<boolean> {
  const key = lock ? pullRequestLockKey(lock) : null;
  const rows = await tx.$queryRaw<Array<{ fresh: boolean }>>`
    WITH fresh AS (
      INSERT INTO processed_deliveries (delivery_id, event, action) VALUES (${delivery.deliveryId}, ${delivery.event}, ${delivery.action})
      ON CONFLICT (delivery_id) DO NOTHING RETURNING 1)
    SELECT f.fresh FROM (SELECT EXISTS (SELECT 1 FROM fresh) AS fresh) f
      LEFT JOIN LATERAL (SELECT pg_advisory_xact_lock(hashtextextended(${key}::text, 0)) WHERE f.fresh AND ${key}::text IS NOT NULL) l ON true`;
  return rows[0]!.fresh;
}

/**
 * Advances the stale-event guard of the pull requests an installation event ended (uninstalled, suspended,
 * repositories removed): a pull_request event older than it, arriving late, must not bring a preview back.
 */
export async function advancePullRequestStates(tx: Db, where: { installationId: bigint; repositoryIds?: bigint[]; repositoryFullNames?: string[] }, at: Date): Promise<void> {
  const repositories = where.repositoryIds || where.repositoryFullNames
    ? Prisma.sql`AND (s.repository_id = ANY(${where.repositoryIds ?? []}::bigint[]) OR ${repositoryNamedSql('s', where.repositoryFullNames ?? [])})`
    : Prisma.empty;
  await tx.$executeRaw`
    UPDATE pull_request_states s SET last_event_at = GREATEST(COALESCE(last_event_at, ${at}), ${at}), updated_at = now()
     WHERE installation_id = ${where.installationId} ${repositories}`;
}

/** Ends an environment's queued, waiting and running deployments as FAILED with `reason`; their ids. */
export async function supersedeActiveDeployments(tx: Db, environmentId: number, reason: string, logMaxBytes = DEFAULT_LOG_MAX_BYTES): Promise<number[]> {
  const rows = await tx.$queryRaw<Array<{ id: number }>>`
    UPDATE deployments SET status = 'FAILED', error_message = ${reason}, completed_at = now(), updated_at = now(),
           logs = ephemera_cap_logs(COALESCE(logs, '') || ${`${reason}\n`}, ${logMaxBytes}::int)
     WHERE environment_id = ${environmentId} AND status IN ('QUEUED', 'WAITING', 'IN_PROGRESS') RETURNING id`;
  return rows.map((r) => r.id);
}

/**
 * What the pull request's comment says beyond its state (why a preview went), until the next event replaces it.
 * With `eventsBefore`, pull_request events older than that moment become stale too (a teardown asked for on
 * purpose, like a close, is not undone by an event from before it delivered late).
 */
export async function setPullRequestNote(tx: Db, key: PullRequestKey, note: string | null, eventsBefore?: Date): Promise<void> {
  const at = eventsBefore ?? null;
  const updated = await tx.$executeRaw`
    UPDATE pull_request_states s
       SET note = ${note}, updated_at = now(),
           last_event_at = CASE WHEN ${at}::timestamptz IS NULL THEN last_event_at ELSE GREATEST(COALESCE(last_event_at, ${at}::timestamptz), ${at}::timestamptz) END
     WHERE ${ofPullRequest('s', key)}`;
  if (updated === 0) {
    await tx.$executeRaw`
      INSERT INTO pull_request_states (repository_id, repository_full_name, pr_number, note, last_event_at, updated_at)
      VALUES (${key.repositoryId === null ? null : BigInt(key.repositoryId)}, ${key.repositoryFullName}, ${key.prNumber}, ${note}, ${at}::timestamptz, now())`;
  }
}

/** The key of an environment's pull request. */
export function environmentKey(env: { repositoryId: bigint | null; repositoryFullName: string; prNumber: number }): PullRequestKey {
  return { repositoryId: env.repositoryId, repositoryFullName: env.repositoryFullName, prNumber: env.prNumber };
}
