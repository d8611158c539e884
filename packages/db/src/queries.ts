import { Prisma } from './generated/prisma/client.js';
import type { Db } from './db-client.js';

// The read side of the query API: keyset-paginated lists in one SQL statement each, newest first. Each row
// carries an exact cursor (created_at to the microsecond, and id), so pages neither repeat nor skip rows while
// new ones are inserted: new rows sort before any cursor already handed out.

export interface EnvironmentRow {
  id: number;
  repository_full_name: string;
  repository_name: string;
  pr_number: number;
  pr_title: string | null;
  branch_name: string;
  commit_sha: string;
  namespace: string;
  environment_url: string | null;
  status: string;
  installation_id: bigint;
  owner_id: number | null;
  owner: string | null;
  error_message: string | null;
  last_deployed_at: Date | null;
  created_at: Date;
  updated_at: Date;
  destroyed_at: Date | null;
  /** created_at as text with microseconds, for the next page's cursor. */
  created_key: string;
}

export interface EnvironmentFilter {
  repositoryFullName?: string;
  statuses?: string[];
  prNumber?: number;
  /** Rows strictly after this (created_at, id) in newest-first order. */
  after?: { createdAt: string; id: number };
  limit: number;
}

const ENVIRONMENT_COLUMNS = Prisma.sql`
  e.id, e.repository_full_name, e.repository_name, e.pr_number, e.pr_title, e.branch_name, e.commit_sha,
  e.namespace, e.environment_url, e.status::text AS status, e.installation_id, e.owner_id, u.github_login AS owner,
  e.error_message, e.last_deployed_at, e.created_at, e.updated_at, e.destroyed_at,
  to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;

export async function listEnvironments(db: Db, filter: EnvironmentFilter): Promise<EnvironmentRow[]> {
  const where: Prisma.Sql[] = [];
  if (filter.repositoryFullName) where.push(Prisma.sql`e.repository_full_name = ${filter.repositoryFullName}`);
  if (filter.statuses?.length) {
    where.push(Prisma.sql`e.status IN (${Prisma.join(filter.statuses.map((s) => Prisma.sql`${s}::environment_status`))})`);
  }
  if (filter.prNumber !== undefined) where.push(Prisma.sql`e.pr_number = ${filter.prNumber}`);
  if (filter.after) {
    where.push(Prisma.sql`(e.created_at, e.id) < (${filter.after.createdAt}::timestamptz, ${filter.after.id})`);
  }
  return db.$queryRaw<EnvironmentRow[]>`
    SELECT ${ENVIRONMENT_COLUMNS}
      FROM environments e LEFT JOIN users u ON u.id = e.owner_id
     ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
     ORDER BY e.created_at DESC, e.id DESC
     LIMIT ${filter.limit}`;
}

export async function findEnvironment(db: Db, by: { id: number } | { namespace: string }): Promise<EnvironmentRow | null> {
  const condition = 'id' in by ? Prisma.sql`e.id = ${by.id}` : Prisma.sql`e.namespace = ${by.namespace}`;
  const rows = await db.$queryRaw<EnvironmentRow[]>`
    SELECT ${ENVIRONMENT_COLUMNS} FROM environments e LEFT JOIN users u ON u.id = e.owner_id WHERE ${condition}`;
  return rows[0] ?? null;
}

export interface DeploymentRow {
  id: number;
  environment_id: number;
  commit_sha: string;
  commit_message: string | null;
  status: string;
  started_at: Date | null;
  completed_at: Date | null;
  error_message: string | null;
  logs?: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Deployment history, newest first; `logs` only when asked for (they can be large). */
export async function listDeployments(
  db: Db,
  environmentId: number,
  options: { afterId?: number; limit: number; includeLogs: boolean },
): Promise<DeploymentRow[]> {
  return db.$queryRaw<DeploymentRow[]>`
    SELECT id, environment_id, commit_sha, commit_message, status::text AS status, started_at, completed_at,
           error_message, ${options.includeLogs ? Prisma.sql`logs,` : Prisma.empty} created_at, updated_at
      FROM deployments
     WHERE environment_id = ${environmentId}
       ${options.afterId !== undefined ? Prisma.sql`AND id < ${options.afterId}` : Prisma.empty}
     ORDER BY id DESC
     LIMIT ${options.limit}`;
}
