import type { Db } from './db-client.js';
import type { Environment } from './generated/prisma/client.js';
import { LOCK_KEY_SQL } from './lock-key.js';

// The deploy gate's reads and writes (`deploy.wait_for`): a deployment waits for its commit's checks, check events
// find the deployments of their commit, and a check re-run that passes revives a deployment its gate failed.

/** A deployment as the deploy gate looks at it, with its environment. */
export interface GateDeployment {
  id: number;
  environmentId: number;
  status: 'QUEUED' | 'WAITING' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED';
  commitSha: string;
  commitMessage: string | null;
  gateChecks: unknown;
  waitingSince: Date | null;
  gateDeadline: Date | null;
  gateWaitingFor: string | null;
  gateFailed: boolean;
  environment: Environment;
}

export async function readGateDeployment(db: Db, deploymentId: number): Promise<GateDeployment | null> {
  const dep = await db.deployment.findUnique({ where: { id: deploymentId }, include: { environment: true } });
  if (!dep) return null;
  const env = dep.environment;
  return {
    id: dep.id,
    environmentId: env.id,
    status: dep.status,
    commitSha: dep.commitSha,
    commitMessage: dep.commitMessage,
    gateChecks: dep.gateChecks,
    waitingSince: dep.waitingSince,
    gateDeadline: dep.gateDeadline,
    gateWaitingFor: dep.gateWaitingFor,
    gateFailed: dep.gateFailed,
    environment: env,
  };
}

/**
 * A QUEUED deployment starts waiting for its checks: what it waits for, since now, until `deadline`. False when it
 * is no longer QUEUED (superseded meanwhile): the condition is on the row, which PostgreSQL re-checks after waiting
 * for a concurrent writer.
 */
export async function startWaiting(db: Db, w: { deploymentId: number; checks: unknown; deadline: Date; waitingFor: string }): Promise<Date | null> {
  const now = new Date();
  const rows = await db.$queryRaw<Array<{ waiting_since: Date }>>`
    UPDATE deployments SET status = 'WAITING', gate_checks = ${JSON.stringify(w.checks)}::jsonb, waiting_since = ${now},
           gate_deadline = ${w.deadline}, gate_waiting_for = ${w.waitingFor}, updated_at = ${now}
     WHERE id = ${w.deploymentId} AND status = 'QUEUED' RETURNING waiting_since`;
  return rows[0]?.waiting_since ?? null;
}

/** What a waiting deployment still waits for, when that changed (a check passed); false when it no longer waits. */
export async function setGateWaitingFor(db: Db, deploymentId: number, waitingFor: string): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE deployments SET gate_waiting_for = ${waitingFor}, updated_at = now()
     WHERE id = ${deploymentId} AND status = 'WAITING' AND gate_waiting_for IS DISTINCT FROM ${waitingFor}`;
  return n > 0;
}

/** A deployment a commit check event concerns. */
export interface GateMatch {
  deploymentId: number;
  environmentId: number;
  status: string;
  gateChecks: unknown;
}

/**
 * Records a commit check delivery as processed and finds, in the same statement, the deployments of that commit in
 * that repository which it may concern: those WAITING, and the latest deployment of an environment whose gate failed
 * (a re-run may pass). Backed by the index on `commit_sha`; a delivery that concerns nothing costs this one
 * statement. `fresh` is false for a delivery processed before; its matches are returned all the same, so a job that
 * died between the two steps still queues what it found.
 */
export async function recordCommitCheck(
  db: Db,
  delivery: { deliveryId: string; event: string; action: string | null },
  commit: { repositoryId: number; sha: string },
): Promise<{ fresh: boolean; matches: GateMatch[] }> {
  const rows = await db.$queryRaw<Array<{ fresh: boolean; matches: GateMatch[] | null }>>`
    WITH fresh AS (
      INSERT INTO processed_deliveries (delivery_id, event, action) VALUES (${delivery.deliveryId}, ${delivery.event}, ${delivery.action})
      ON CONFLICT (delivery_id) DO NOTHING RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM fresh) AS fresh,
           (SELECT json_agg(json_build_object('deploymentId', d.id, 'environmentId', d.environment_id, 'status', d.status, 'gateChecks', d.gate_checks))
              FROM deployments d JOIN environments e ON e.id = d.environment_id
             WHERE d.commit_sha = ${commit.sha} AND e.repository_id = ${BigInt(commit.repositoryId)}
               AND (d.status = 'WAITING'
                    OR (d.gate_failed AND d.id = (SELECT max(id) FROM deployments l WHERE l.environment_id = d.environment_id)))) AS matches`;
  return { fresh: rows[0]!.fresh, matches: rows[0]!.matches ?? [] };
}

/** Every deployment waiting for its checks, for the poll pass. */
export async function listWaitingDeployments(db: Db, limit = 5_000): Promise<Array<{ id: number; environmentId: number }>> {
  return db.deployment.findMany({ where: { status: 'WAITING' }, select: { id: true, environmentId: true }, orderBy: { id: 'asc' }, take: limit });
}

/**
 * A deployment whose gate failed, whose checks passed on a re-run: the same commit is queued again, under the pull
 * request's lock, if it is still the environment's latest deployment, the pull request's head, and the environment
 * is alive. A failed new environment comes back to PENDING. The new deployment's id, or null when it no longer
 * applies.
 */
export async function requeueAfterRerun(db: Db, failed: { deploymentId: number; environmentId: number; commitSha: string }): Promise<number | null> {
  const rows = await db.$queryRaw<Array<{ id: number }>>`
    WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended(${LOCK_KEY_SQL}, 0)) FROM environments e WHERE e.id = ${failed.environmentId}),
    ok AS (
      SELECT e.id FROM environments e
       WHERE e.id = ${failed.environmentId} AND EXISTS (SELECT 1 FROM l)
         AND e.status IN ('PENDING', 'READY', 'FAILED') AND e.waiting_since IS NULL AND e.destroy_requested_at IS NULL
         AND (SELECT max(id) FROM deployments WHERE environment_id = e.id) = ${failed.deploymentId}
         AND EXISTS (SELECT 1 FROM deployments WHERE id = ${failed.deploymentId} AND status = 'FAILED' AND gate_failed AND commit_sha = ${failed.commitSha})
         AND EXISTS (SELECT 1 FROM pull_request_states s
                      WHERE s.pr_number = e.pr_number AND s.last_head_sha = ${failed.commitSha} AND s.last_pr_state = 'open'
                        AND (s.repository_id = e.repository_id OR (e.repository_id IS NULL AND s.repository_full_name = e.repository_full_name)))
       FOR UPDATE),
    env AS (
      UPDATE environments SET status = 'PENDING', error_message = NULL, updated_at = now()
       WHERE id IN (SELECT id FROM ok) AND status = 'FAILED' RETURNING 1),
    dep AS (
      INSERT INTO deployments (environment_id, commit_sha, commit_message, status, updated_at)
      SELECT ok.id, d.commit_sha, d.commit_message, 'QUEUED', now() FROM ok, deployments d WHERE d.id = ${failed.deploymentId}
      RETURNING id)
    SELECT id FROM dep`;
  return rows[0]?.id ?? null;
}

