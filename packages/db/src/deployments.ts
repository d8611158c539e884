import {
  assertDeploymentTransition,
  assertEnvironmentTransition,
  type DeploymentStatus,
  type EnvironmentStatus,
} from '@ephemera/schema';
import type { Db } from './db-client.js';
import { environmentStatusStamps, type StatusChange } from './environments.js';
import { LOCK_KEY_SQL } from './lock-key.js';
import { assignments } from './sql-fields.js';
import { Prisma, type Deployment } from './generated/prisma/client.js';
import { NotFoundError } from './errors.js';

export interface CreateDeploymentInput {
  environmentId: number;
  commitSha: string;
  commitMessage?: string | null;
}

/** A new deployment, QUEUED. */
export async function createDeployment(db: Db, input: CreateDeploymentInput): Promise<Deployment> {
  try {
    return await db.deployment.create({
      data: {
        environmentId: input.environmentId,
        commitSha: input.commitSha,
        commitMessage: input.commitMessage ?? null,
        status: 'QUEUED',
      },
    });
  } catch (err) {
    // P2003: the environment does not exist.
    if ((err as { code?: unknown }).code === 'P2003') throw new NotFoundError('environment', input.environmentId);
    throw err;
  }
}

/** Deployment history of an environment, newest first. */
export async function getDeploymentsByEnvironment(
  db: Db,
  environmentId: number,
  options: { limit?: number } = {},
): Promise<Deployment[]> {
  return db.deployment.findMany({
    where: { environmentId },
    orderBy: { id: 'desc' },
    ...(options.limit ? { take: options.limit } : {}),
  });
}

export async function getLatestDeployment(db: Db, environmentId: number): Promise<Deployment | null> {
  return db.deployment.findFirst({ where: { environmentId }, orderBy: { id: 'desc' } });
}

/** DEPLOYMENT_LOG_MAX_BYTES' default: a deployment's logs keep their newest this many bytes. */
export const DEFAULT_LOG_MAX_BYTES = 262_144;

/**
 * Adds lines to a deployment's logs without changing its status; past `maxBytes` the oldest lines are cut (with
 * a marker saying how much), so a chatty rollout cannot grow a row without bound.
 */
export async function appendDeploymentLogs(db: Db, id: number, lines: string, maxBytes: number = DEFAULT_LOG_MAX_BYTES): Promise<void> {
  const n = await db.$executeRaw`
    UPDATE deployments SET logs = ephemera_cap_logs(COALESCE(logs, '') || ${lines}, ${maxBytes}::int), updated_at = now() WHERE id = ${id}`;
  if (n === 0) throw new NotFoundError('deployment', id);
}

export interface DeploymentMove {
  deploymentId: number;
  /** Moved only from one of these statuses. */
  from: DeploymentStatus[];
  to: DeploymentStatus;
  errorMessage?: string | null;
  appendLogs?: string;
  maxLogBytes?: number;
  /** A deployment that fails at its deploy gate: a later re-run of the check that passes deploys its commit after all. */
  gateFailed?: boolean;
  /** The environment's move that goes with it, made only when the deployment moved and the environment is in `from`. */
  environment?: { id: number; from: EnvironmentStatus[]; to: EnvironmentStatus; change?: StatusChange };
  /**
   * Take the pull request's lock in the statement itself, for a move made outside a transaction (the deploy step's
   * end): the lock serialises it with the webhooks' transactions, and every condition is on the rows it updates,
   * which PostgreSQL re-checks against their latest version after waiting.
   */
  lock?: boolean;
  /**
   * Commit without waiting for the WAL to reach disk (`synchronous_commit = off` for this statement alone). Only for
   * a move that can be lost to a database crash and made again: a deploy's end is, since the stuck sweep queues the
   * deploy again for a deployment left IN_PROGRESS. Deliveries and claims are always committed synchronously.
   */
  asyncCommit?: boolean;
}

/**
 * A deployment's status move and its environment's, in one statement (the deploy step's claim, success and failure):
 * each is a conditional UPDATE, and the environment moves only if the deployment did. The moves are checked against
 * the state machine first: asking for an illegal one is a bug and throws. Returns what moved.
 */
export async function moveDeployment(db: Db, m: DeploymentMove): Promise<{ deployment: boolean; environment: boolean }> {
  for (const from of m.from) assertDeploymentTransition(from, m.to, m.deploymentId);
  const e = m.environment;
  if (e) for (const from of e.from) assertEnvironmentTransition(from, e.to, e.id);
  const now = new Date();
  const logs = m.appendLogs
    ? Prisma.sql`ephemera_cap_logs(COALESCE(logs, '') || ${m.appendLogs}, ${m.maxLogBytes ?? DEFAULT_LOG_MAX_BYTES}::int)`
    : Prisma.sql`logs`;
  let envCte = Prisma.sql`env AS (SELECT 1 WHERE false)`;
  if (e) {
    const { status, ...stamps } = environmentStatusStamps(e.to, e.change ?? {}, now);
    envCte = Prisma.sql`env AS (
      UPDATE environments SET status = ${status}::environment_status, ${assignments({ ...stamps, updatedAt: now })}
       WHERE id = ${e.id} AND status::text = ANY(${e.from}::text[]) AND EXISTS (SELECT 1 FROM dep) RETURNING 1)`;
  }
  const lock = m.lock
    ? Prisma.sql`l AS (SELECT pg_advisory_xact_lock(hashtextextended(${LOCK_KEY_SQL}, 0)) FROM environments e JOIN deployments d ON d.environment_id = e.id WHERE d.id = ${m.deploymentId}),`
    : Prisma.empty;
  const locked = m.lock ? Prisma.sql`AND EXISTS (SELECT 1 FROM l)` : Prisma.empty;
  const commit = m.asyncCommit ? Prisma.sql`, (SELECT set_config('synchronous_commit', 'off', true)) AS commit_mode` : Prisma.empty;
  const rows = await db.$queryRaw<Array<{ dep: boolean; env: boolean }>>`
    WITH ${lock} dep AS (
      UPDATE deployments
         SET status = ${m.to}::deployment_status, error_message = ${m.errorMessage ?? null}, logs = ${logs},
             started_at = CASE WHEN ${m.to} = 'IN_PROGRESS' THEN ${now} ELSE started_at END,
             completed_at = CASE WHEN ${m.to} IN ('SUCCESS', 'FAILED') THEN ${now} ELSE completed_at END,
             gate_failed = ${m.gateFailed ?? false},
             updated_at = ${now}
       WHERE id = ${m.deploymentId} AND status::text = ANY(${m.from}::text[]) ${locked} RETURNING 1),
    ${envCte}
    SELECT EXISTS (SELECT 1 FROM dep) AS dep, EXISTS (SELECT 1 FROM env) AS env ${commit}`;
  return { deployment: rows[0]!.dep, environment: rows[0]!.env };
}
