import type { DeploymentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import { Prisma, type Environment, type PullRequestState } from './generated/prisma/client.js';
import type { PullRequestKey } from './lock-key.js';
import { environmentFromJson, stateFromJson } from './model-from-json.js';
import { sameRepositorySql } from './repository-identity.js';
import { selectFields } from './sql-fields.js';

// What one webhook, one deploy step or one feedback job reads of a pull request before it decides: one statement
// each, under the pull request's lock when the caller holds it.

export const ENVIRONMENT_COLUMNS = selectFields(Prisma.EnvironmentScalarFieldEnum, 'e');
const STATE_COLUMNS = selectFields(Prisma.PullRequestStateScalarFieldEnum, 's');

/** Matches a pull request's row: by repository id, or by name for a row made before the id was kept. */
export function ofPullRequest(alias: string, key: PullRequestKey): Prisma.Sql {
  return Prisma.sql`${Prisma.raw(alias)}.pr_number = ${key.prNumber} AND ${sameRepositorySql(alias, key)}`;
}

export interface DeploymentRef {
  id: number;
  status: DeploymentStatus;
  commitSha: string;
}

/** What a transaction on a pull request starts from, read in one statement. */
export interface PullRequestRecord {
  environment: Environment | null;
  state: PullRequestState | null;
  latest: DeploymentRef | null;
  /** Deployments not yet ended (QUEUED, WAITING or IN_PROGRESS), oldest first. */
  active: number[];
  /**
   * The rows' versions as read (PostgreSQL's `xmin`, which every update changes): an optimistic write goes on only
   * while they are unchanged.
   */
  versions?: { environment: string | null; state: string | null };
}

export async function getEnvironmentByPr(db: Db, key: PullRequestKey): Promise<Environment | null> {
  const rows = await db.$queryRaw<Environment[]>`
    SELECT ${ENVIRONMENT_COLUMNS} FROM environments e WHERE ${ofPullRequest('e', key)} ORDER BY e.repository_id NULLS LAST LIMIT 1`;
  return rows[0] ?? null;
}

/** The pull request's environment, its state row, its latest deployment and its active ones: one statement. */
export async function readPullRequest(db: Db, key: PullRequestKey, extra?: Prisma.Sql): Promise<PullRequestRecord & { extra?: unknown }> {
  const rows = await db.$queryRaw<Array<{ env: Record<string, unknown> | null; state: Record<string, unknown> | null; latest: DeploymentRef | null; active: number[] | null; extra?: unknown }>>`
    WITH e AS (SELECT ${ENVIRONMENT_COLUMNS}, e.xmin::text AS "rowVersion" FROM environments e WHERE ${ofPullRequest('e', key)} ORDER BY e.repository_id NULLS LAST LIMIT 1),
         s AS (SELECT ${STATE_COLUMNS}, s.xmin::text AS "rowVersion" FROM pull_request_states s WHERE ${ofPullRequest('s', key)} ORDER BY s.repository_id NULLS LAST LIMIT 1)
    SELECT (SELECT row_to_json(e) FROM e) AS env,
           (SELECT row_to_json(s) FROM s) AS state,
           (SELECT json_build_object('id', d.id, 'status', d.status, 'commitSha', d.commit_sha)
              FROM deployments d JOIN e ON d.environment_id = e.id ORDER BY d.id DESC LIMIT 1) AS latest,
           (SELECT array_agg(d.id ORDER BY d.id)
              FROM deployments d JOIN e ON d.environment_id = e.id WHERE d.status IN ('QUEUED', 'WAITING', 'IN_PROGRESS')) AS active
           ${extra ? Prisma.sql`, ${extra} AS extra` : Prisma.empty}`;
  const row = rows[0]!;
  const { rowVersion: environmentVersion = null, ...env } = (row.env ?? {}) as Record<string, unknown>;
  const { rowVersion: stateVersion = null, ...state } = (row.state ?? {}) as Record<string, unknown>;
  return {
    environment: row.env ? environmentFromJson(db, env) : null,
    state: row.state ? stateFromJson(db, state) : null,
    latest: row.latest,
    active: row.active ?? [],
    versions: { environment: environmentVersion as string | null, state: stateVersion as string | null },
    ...(extra ? { extra: row.extra } : {}),
  };
}

/** An environment with one of its deployments, as a deploy step reads them under the lock: one statement. */
export async function readDeployment(
  db: Db,
  environmentId: number,
  deploymentId: number,
): Promise<{ environment: Environment | null; deployment: DeploymentRef | null }> {
  const rows = await db.$queryRaw<Array<{ env: Record<string, unknown> | null; dep: DeploymentRef | null }>>`
    SELECT (SELECT row_to_json(x) FROM (SELECT ${ENVIRONMENT_COLUMNS} FROM environments e WHERE e.id = ${environmentId}) x) AS env,
           (SELECT json_build_object('id', d.id, 'status', d.status, 'commitSha', d.commit_sha)
              FROM deployments d WHERE d.id = ${deploymentId} AND d.environment_id = ${environmentId}) AS dep`;
  const row = rows[0]!;
  return { environment: row.env ? environmentFromJson(db, row.env) : null, deployment: row.dep };
}
