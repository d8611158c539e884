import type { DeploymentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import type { Environment, PullRequestState } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { readPullRequest, type PullRequestKey } from './pull-requests.js';

/** A deployment as feedback reports it. */
export interface ReportedDeployment {
  id: number;
  status: DeploymentStatus;
  commitSha: string;
  errorMessage: string | null;
  /** While WAITING: the checks it still waits for (`` `build`, `docker / push` ``). */
  gateWaitingFor: string | null;
  githubDeploymentId: bigint | null;
  /** What was last reported to GitHub for it (null: nothing yet). */
  reportedState: string | null;
}

export interface FeedbackState {
  environment: Environment | null;
  state: PullRequestState | null;
  /** The environment's latest deployment. */
  latest: ReportedDeployment | null;
  /** Deployments whose report may be out of date (the latest, those never reported, those last reported pending), newest first. */
  toReport: ReportedDeployment[];
  /** The commit of the environment's latest successful deployment: what a running preview serves. */
  servingSha: string | null;
}

/** Prefix of a reported state that is not final: the deployment is looked at again until it is reported final. */
const PENDING_REPORT_PREFIX = 'pending:';

/** How many deployments one feedback job reports at most (the newest); a burst older than that is not reported. */
const REPORT_LIMIT = 20;

/** Everything a feedback job renders and reports, in one statement. */
export async function readFeedbackState(db: Db, key: PullRequestKey): Promise<FeedbackState> {
  const record = await readPullRequest(db, key, Prisma.sql`json_build_object(
    'toReport', (SELECT json_agg(r ORDER BY r.id DESC) FROM (
       SELECT d.id, d.status, d.commit_sha AS "commitSha", d.error_message AS "errorMessage", d.gate_waiting_for AS "gateWaitingFor",
              d.github_deployment_id::text AS "githubDeploymentId", d.reported_state AS "reportedState"
         FROM deployments d JOIN e ON d.environment_id = e.id
        WHERE d.id = (SELECT max(id) FROM deployments WHERE environment_id = e.id)
           OR d.reported_state IS NULL OR d.reported_state LIKE ${`${PENDING_REPORT_PREFIX}%`}
        ORDER BY d.id DESC LIMIT ${REPORT_LIMIT}) r),
    'servingSha', (SELECT d.commit_sha FROM deployments d JOIN e ON d.environment_id = e.id WHERE d.status = 'SUCCESS' ORDER BY d.id DESC LIMIT 1))`);
  const extra = (record.extra ?? {}) as { toReport?: unknown[] | null; servingSha?: string | null };
  const toReport = ((extra.toReport ?? []) as Array<Omit<ReportedDeployment, 'githubDeploymentId'> & { githubDeploymentId: string | null }>).map((d) => ({
    ...d,
    githubDeploymentId: d.githubDeploymentId === null ? null : BigInt(d.githubDeploymentId),
  }));
  return {
    environment: record.environment,
    state: record.state,
    latest: toReport.find((d) => d.id === record.latest?.id) ?? null,
    toReport,
    servingSha: extra.servingSha ?? null,
  };
}

/**
 * Records what a feedback job reported: each deployment's reported state and the comment's digest, one statement.
 * Committed without waiting for the disk: lost to a database crash, it only means the report is made again.
 */
export async function recordFeedback(
  db: Db,
  done: { stateId: bigint | null; commentDigest: string | null; reported: Array<{ id: number; state: string }> },
): Promise<void> {
  const parts: Prisma.Sql[] = [];
  if (done.reported.length > 0) {
    parts.push(Prisma.sql`d AS (
      UPDATE deployments SET reported_state = r.state
        FROM unnest(${done.reported.map((r) => r.id)}::int[], ${done.reported.map((r) => r.state)}::text[]) AS r(id, state)
       WHERE deployments.id = r.id RETURNING 1)`);
  }
  if (done.stateId !== null && done.commentDigest !== null) {
    parts.push(Prisma.sql`s AS (UPDATE pull_request_states SET comment_digest = ${done.commentDigest} WHERE id = ${done.stateId} RETURNING 1)`);
  }
  if (parts.length === 0) return;
  await db.$executeRaw`WITH ${Prisma.join(parts, ', ')} SELECT set_config('synchronous_commit', 'off', true)`;
}
