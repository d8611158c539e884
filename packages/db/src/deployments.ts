import { IllegalTransitionError, deploymentPredecessors, type DeploymentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import type { Deployment } from './generated/prisma/client.js';
import { NotFoundError, isRecordNotFound } from './errors.js';

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

export interface DeploymentChange {
  errorMessage?: string | null;
  /** Appended to the deployment's logs (each call adds lines; the oldest are cut past the cap). */
  appendLogs?: string;
  maxLogBytes?: number;
}

/**
 * Moves a deployment to `to` if the state machine allows it: IN_PROGRESS stamps started_at, SUCCESS and FAILED
 * stamp completed_at. One conditional UPDATE; throws {@link IllegalTransitionError} or {@link NotFoundError}.
 */
export async function updateDeploymentStatus(
  db: Db,
  id: number,
  to: DeploymentStatus,
  change: DeploymentChange = {},
): Promise<Deployment> {
  const now = new Date();
  const predecessors = deploymentPredecessors(to);
  if (change.appendLogs !== undefined) {
    // Appending needs the database's own concatenation, which Prisma's update cannot express.
    const rows = await db.$queryRaw<Array<{ id: number }>>`
      UPDATE deployments
         SET status = ${to}::deployment_status,
             logs = ephemera_cap_logs(COALESCE(logs, '') || ${change.appendLogs}, ${change.maxLogBytes ?? DEFAULT_LOG_MAX_BYTES}::int),
             error_message = ${change.errorMessage ?? null},
             started_at = CASE WHEN ${to} = 'IN_PROGRESS' THEN ${now} ELSE started_at END,
             completed_at = CASE WHEN ${to} IN ('SUCCESS', 'FAILED') THEN ${now} ELSE completed_at END,
             updated_at = ${now}
       WHERE id = ${id} AND status::text = ANY(${predecessors})
   RETURNING id`;
    if (rows.length === 0) await throwRefusal(db, id, to);
    return (await db.deployment.findUnique({ where: { id } }))!;
  }
  try {
    return await db.deployment.update({
      where: { id, status: { in: predecessors } },
      data: {
        status: to,
        errorMessage: change.errorMessage ?? null,
        ...(to === 'IN_PROGRESS' ? { startedAt: now } : {}),
        ...(to === 'SUCCESS' || to === 'FAILED' ? { completedAt: now } : {}),
      },
    });
  } catch (err) {
    if (!isRecordNotFound(err)) throw err;
    return throwRefusal(db, id, to);
  }
}

async function throwRefusal(db: Db, id: number, to: DeploymentStatus): Promise<never> {
  const current = await db.deployment.findUnique({ where: { id }, select: { status: true } });
  if (!current) throw new NotFoundError('deployment', id);
  throw new IllegalTransitionError('deployment', current.status, to, id);
}

/**
 * Adds lines to a deployment's logs without changing its status; past `maxBytes` the oldest lines are cut (with
 * a marker saying how much), so a chatty rollout cannot grow a row without bound.
 */
export async function appendDeploymentLogs(db: Db, id: number, lines: string, maxBytes: number = DEFAULT_LOG_MAX_BYTES): Promise<void> {
  const n = await db.$executeRaw`
    UPDATE deployments SET logs = ephemera_cap_logs(COALESCE(logs, '') || ${lines}, ${maxBytes}::int), updated_at = now() WHERE id = ${id}`;
  if (n === 0) throw new NotFoundError('deployment', id);
}
