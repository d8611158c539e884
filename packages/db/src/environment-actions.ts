import { canTransitionEnvironment, IllegalTransitionError, type ActionRequester, type DeploymentStatus, type EnvironmentAction, type EnvironmentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import { DEFAULT_LOG_MAX_BYTES } from './deployments.js';
import { environmentStatusStamps } from './environments.js';
import { environmentKey, recordDelivery, setPullRequestNote, supersedeActiveDeployments } from './pull-requests.js';

// Redeploy and destroy asked for from the dashboard or the write API. The worker decides whether the action still
// applies under the pull request's lock; this writes what it decided, in the caller's transaction, with the request
// recorded like a delivery so a job run twice applies once.

/** processed_deliveries' `event` of an environment action (its `action` is the action's name). */
const ENVIRONMENT_ACTION_EVENT = 'environment';

/** Whether an action's request was applied before (its id is recorded like a delivery id). */
export async function environmentActionApplied(db: Db, requestId: string): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM processed_deliveries WHERE delivery_id = ${requestId}`;
  return rows.length > 0;
}

export interface EnvironmentActionWrite {
  requestId: string;
  action: EnvironmentAction;
  requestedBy: ActionRequester;
  requestedAt: Date;
  /** The environment as read under its pull request's lock. */
  environment: { id: number; status: EnvironmentStatus; repositoryId: bigint | null; repositoryFullName: string; prNumber: number };
  /** The environment's status after the action (unchanged when equal to its status). */
  to: EnvironmentStatus;
  /** Queued and running deployments end as FAILED with this reason. */
  supersedeReason: string;
  /**
   * A new QUEUED deployment (redeploy), which restarts the rollout even when nothing else changed; without one the log
   * line goes to the latest deployment.
   */
  deployment: { commitSha: string; commitMessage: string } | null;
  /** One line (with its newline) saying who asked, for the new or the latest deployment's logs. */
  logLine: string;
  /** What the pull request's comment says of it, until the next event replaces it. */
  note: string;
  logMaxBytes?: number;
}

export interface EnvironmentActionWritten {
  environment: { id: number; status: EnvironmentStatus; waitingSince: Date | null; installationId: bigint };
  /** The latest deployment after the write. */
  latest: { id: number; status: DeploymentStatus } | null;
}

/**
 * Applies an action the caller decided under the pull request's lock: records the request (null, and nothing
 * written, when it was applied before), writes the log line, supersedes active deployments, queues the new
 * deployment, moves the environment (checked against the state machine) with who asked, and sets the comment's note.
 */
export async function writeEnvironmentAction(tx: Db, w: EnvironmentActionWrite): Promise<EnvironmentActionWritten | null> {
  const env = w.environment;
  if (w.to !== env.status && !canTransitionEnvironment(env.status, w.to)) throw new IllegalTransitionError('environment', env.status, w.to, env.id);
  const fresh = await recordDelivery(tx, { deliveryId: w.requestId, event: ENVIRONMENT_ACTION_EVENT, action: w.action }, null);
  if (!fresh) return null;
  const maxBytes = w.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const now = new Date();

  if (!w.deployment) {
    // Before the supersede's own line, so the deployment's logs read in the order things happened.
    await tx.$executeRaw`
      UPDATE deployments SET logs = ephemera_cap_logs(COALESCE(logs, '') || ${w.logLine}, ${maxBytes}::int), updated_at = ${now}
       WHERE id = (SELECT max(id) FROM deployments WHERE environment_id = ${env.id})`;
  }
  await supersedeActiveDeployments(tx, env.id, w.supersedeReason, maxBytes);
  const created = w.deployment
    ? (
        await tx.$queryRaw<Array<{ id: number }>>`
          INSERT INTO deployments (environment_id, commit_sha, commit_message, status, logs, restart, updated_at)
          VALUES (${env.id}, ${w.deployment.commitSha}, ${w.deployment.commitMessage}, 'QUEUED', ephemera_cap_logs(${w.logLine}, ${maxBytes}::int), true, ${now})
          RETURNING id`
      )[0]!.id
    : null;

  const stamps = w.to !== env.status ? environmentStatusStamps(w.to, {}, now) : {};
  const [after] = await tx.environment.updateManyAndReturn({
    where: { id: env.id, status: env.status },
    data: {
      ...stamps,
      lastAction: w.action,
      lastActionBy: w.requestedBy.login,
      lastActionKind: w.requestedBy.kind,
      lastActionAt: w.requestedAt,
      updatedAt: now,
    },
    select: { id: true, status: true, waitingSince: true, installationId: true },
  });
  // The caller read the environment under the lock: a change meanwhile is a write outside it (a bug).
  if (!after) throw new IllegalTransitionError('environment', env.status, w.to, env.id);
  // A destroy is final as a close is: a pull_request event from before it, delivered late, does not undo it.
  await setPullRequestNote(tx, environmentKey(env), w.note, w.action === 'destroy' ? new Date(w.requestedAt) : undefined);

  const latest =
    created !== null
      ? { id: created, status: 'QUEUED' as const }
      : await tx.deployment.findFirst({ where: { environmentId: env.id }, orderBy: { id: 'desc' }, select: { id: true, status: true } });
  return { environment: after, latest };
}
