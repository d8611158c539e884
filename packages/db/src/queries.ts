import { createHash } from 'node:crypto';
import pg from 'pg';
import { apiJsonSelectList, deploymentApiJson } from './api-json-fields.js';
import { poolConfigFromUrl } from './database-url.js';
import { repositoryAmongSql, repositoryNamedAsSql, repositoryNames, sameRepositoryRowsSql } from './repository-identity.js';

// The read side of the query API, on plain node-postgres rather than Prisma: these are the hottest requests
// Ephemera serves, and the same statement costs the service much less CPU this way than through Prisma's query
// engine and result mapping. Timestamps come out of PostgreSQL already as ISO 8601 UTC text, and environments as
// finished JSON.
//
// Lists are keyset-paginated, newest first, one statement each. Each row carries an exact cursor (created_at
// to the microsecond, and id), so pages neither repeat nor skip rows while new ones are inserted: new rows sort
// before any cursor already handed out.

/** What the read functions need of a pool: node-postgres's `query`. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  query<R extends unknown[]>(config: pg.QueryArrayConfig): Promise<pg.QueryArrayResult<R>>;
}

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `q_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}
/**
 * Runs `text` as a named prepared statement: each connection plans it once, not on every request (planning
 * the list query costs PostgreSQL more than running it). The name is derived from the text, so each filter
 * combination gets its own statement.
 */
function prepared<R extends pg.QueryResultRow>(db: Queryable, text: string, values: unknown[]) {
  return db.query<R>({ name: statementName(text), text, values });
}
/** As `prepared`, with each row as an array of its columns rather than an object. */
function preparedArrays<R extends unknown[]>(db: Queryable, text: string, values: unknown[]) {
  return db.query<R>({ name: statementName(text), text, values, rowMode: 'array' });
}
/** Statement names by text; bounded by the filter combinations the API allows (a few dozen). */
const statementNames = new Map<string, string>();

/** A node-postgres pool for read paths. */
export function createReadPool(config: { databaseUrl: string; poolSize?: number }): pg.Pool {
  return new pg.Pool({
    ...poolConfigFromUrl(config.databaseUrl),
    max: config.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    // row_to_json renders timestamps in the session's time zone: UTC makes deployments' ISO 8601 UTC ("…+00:00").
    // Generic plans: PostgreSQL otherwise kept re-planning the active-environments list on every execution
    // (a custom plan per status array), a large share of its time for a plan that came out the same every time.
    options: '-c TimeZone=UTC -c plan_cache_mode=force_generic_plan',
  });
}

/**
 * An environment as the API returns it, already serialised by PostgreSQL (row_to_json): the service
 * only joins the rows, instead of parsing every column of every row and stringifying them again.
 */
export interface EnvironmentJsonRow {
  id: number;
  /** The API object (snake_case fields, ISO 8601 UTC timestamps, owner login embedded) as JSON text. */
  json: string;
  /** created_at as PostgreSQL's text, exact to the microsecond, for the next page's cursor. */
  created_key: string;
}

export interface EnvironmentFilter {
  /** Only this repository's rows, by full name in any case (as GitHub compares names). */
  repositoryFullName?: string;
  statuses?: string[];
  prNumber?: number;
  /**
   * Only these repositories: by GitHub's repository id, and by full name for rows made before the id was kept (as
   * the worker matches pull requests). Empty lists: nothing.
   */
  repositories?: { ids: number[]; fullNames: string[] };
  /** Rows strictly after this (created_at, id) in newest-first order. */
  after?: { createdAt: string; id: number };
  limit: number;
}

/**
 * An environment's API JSON is rendered by PostgreSQL when the row is written (the `api_json` column, kept by a
 * trigger), so a read only fetches finished text: rendering every field of every row on each request was most of
 * a list's database time. The trigger's function is derived from `environmentResponseSchema` in @ephemera/schema
 * and installed by the migrator (api-json-fields.ts, migrate/sync-api-json.ts).
 */
const ENVIRONMENT_JSON = `e.id, e.api_json AS json, e.created_at::text AS created_key`;

export interface EnvironmentPage {
  /** The page as a JSON array, joined from the rows' finished JSON. */
  body: string;
  /** Key of the page's last row when another page follows. */
  next: { createdAt: string; id: number } | null;
}

/**
 * One page of environments, newest first, in one statement. One row more than asked is read to know whether a
 * next page exists; it is not part of the body. The rows come back as plain arrays and the service joins their
 * JSON: having PostgreSQL aggregate the page into one value (string_agg and array_agg in row order) cost the
 * database more than returning the rows, and more than the service pays to read a page of short rows; the
 * database is the part every query service shares, so the work goes to the service.
 */
export async function listEnvironments(db: Queryable, filter: EnvironmentFilter): Promise<EnvironmentPage> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  if (filter.repositoryFullName) where.push(repositoryNamedAsSql('e', param(repositoryNames([filter.repositoryFullName])[0])));
  if (filter.statuses?.length) where.push(`e.status = ANY(${param(filter.statuses)}::environment_status[])`);
  if (filter.prNumber !== undefined) where.push(`e.pr_number = ${param(filter.prNumber)}`);
  if (filter.repositories) {
    where.push(
      repositoryAmongSql('e', param(filter.repositories.ids), param(repositoryNames(filter.repositories.fullNames))),
    );
  }
  if (filter.after) {
    where.push(`(e.created_at, e.id) < (${param(filter.after.createdAt)}::timestamptz, ${param(filter.after.id)})`);
  }
  const { rows } = await preparedArrays<[id: number, json: string, createdKey: string]>(
    db,
    `SELECT ${ENVIRONMENT_JSON}
       FROM environments e
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY e.created_at DESC, e.id DESC
      LIMIT ${param(filter.limit)} + 1`,
    values,
  );
  const more = rows.length > filter.limit;
  if (more) rows.length = filter.limit;
  let body = '[';
  for (let i = 0; i < rows.length; i++) body += (i === 0 ? '' : ',') + rows[i]![1];
  body += ']';
  const last = rows[rows.length - 1];
  return { body, next: more && last ? { createdAt: last[2], id: last[0] } : null };
}

export async function findEnvironment(db: Queryable, by: { id: number } | { namespace: string }): Promise<EnvironmentJsonRow | null> {
  const [condition, value] = 'id' in by ? ['e.id = $1', by.id] : ['e.namespace = $1', by.namespace];
  const { rows } = await prepared<EnvironmentJsonRow>(
    db,
    `SELECT ${ENVIRONMENT_JSON} FROM environments e WHERE ${condition}`,
    [value],
  );
  return rows[0] ?? null;
}

export async function environmentExists(db: Queryable, id: number): Promise<boolean> {
  const { rowCount } = await prepared(db, 'SELECT 1 FROM environments WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/** A deployment as the API returns it, serialised by PostgreSQL like environments. */
export interface DeploymentJsonRow {
  id: number;
  json: string;
}

export { LISTED_LOG_MAX_BYTES } from './api-json-fields.js';

/** A deployment's JSON, its fields derived from `deploymentResponseSchema`: without and with its logs. */
const DEPLOYMENT_JSON = {
  withoutLogs: `(SELECT row_to_json(r) FROM (SELECT ${apiJsonSelectList(deploymentApiJson, 'd')}) r)::text AS json`,
  withLogs: `(SELECT row_to_json(r) FROM (SELECT ${apiJsonSelectList(deploymentApiJson, 'd', ['logs'])}) r)::text AS json`,
};

/** Deployment history, newest first; `logs` only when asked for, and then only their newest part. */
export async function listDeployments(
  db: Queryable,
  environmentId: number,
  options: { afterId?: number; limit: number; includeLogs: boolean },
): Promise<DeploymentJsonRow[]> {
  const values: unknown[] = [environmentId, options.limit];
  if (options.afterId !== undefined) values.push(options.afterId);
  const { rows } = await prepared<DeploymentJsonRow>(
    db,
    `SELECT d.id, ${options.includeLogs ? DEPLOYMENT_JSON.withLogs : DEPLOYMENT_JSON.withoutLogs}
       FROM deployments d
      WHERE d.environment_id = $1 ${options.afterId !== undefined ? 'AND d.id < $3' : ''}
      ORDER BY d.id DESC
      LIMIT $2`,
    values,
  );
  return rows;
}

/** What deciding whether an action applies needs to know of an environment. */
export interface ActionTarget {
  status: string;
  /** Its teardown was asked for and has not finished (a failed teardown is retried by the worker's sweep). */
  destroyRequested: boolean;
  /** `open` or `closed` as the newest applied event showed the pull request; null when nothing was recorded. */
  prState: string | null;
}

/**
 * Reads an environment's status and its pull request's state in one statement; null for an unknown id. The pull
 * request state row is matched as the worker matches it: by GitHub's repository id, which a rename keeps, and by
 * full name for rows made before the id was kept.
 */
export async function readActionTarget(db: Queryable, id: number): Promise<ActionTarget | null> {
  const { rows } = await prepared<{ status: string; destroy_requested: boolean; pr_state: string | null }>(
    db,
    `SELECT e.status::text AS status,
                  e.destroy_requested_at IS NOT NULL AS destroy_requested,
                  (SELECT s.last_pr_state
                     FROM pull_request_states s
                    WHERE s.pr_number = e.pr_number
                      AND ${sameRepositoryRowsSql('s', 'e')}
                    ORDER BY s.repository_id NULLS LAST
                    LIMIT 1) AS pr_state
             FROM environments e
            WHERE e.id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? { status: row.status, destroyRequested: row.destroy_requested, prState: row.pr_state } : null;
}

/** A deployment of an environment with its logs (their newest part, as listed), or null when it is not one of its. */
export async function findDeployment(db: Queryable, environmentId: number, deploymentId: number): Promise<DeploymentJsonRow | null> {
  const { rows } = await prepared<DeploymentJsonRow>(
    db,
    `SELECT d.id, ${DEPLOYMENT_JSON.withLogs} FROM deployments d WHERE d.id = $1 AND d.environment_id = $2`,
    [deploymentId, environmentId],
  );
  return rows[0] ?? null;
}

/** What a deployment's logs hold from a position on, for following them as they are written. */
export interface LogTail {
  status: string;
  /** The logs' length in characters (PostgreSQL's), the position to ask from next time. */
  length: number;
  /** The text from the position asked for; all of it when the logs are now shorter (their start was cut). */
  text: string;
  /** True when `text` is the logs from their start rather than a continuation. */
  restarted: boolean;
}

/** The logs of a deployment written after `from` (characters), with its status; null when the deployment is gone. */
export async function readLogTail(db: Queryable, deploymentId: number, from: number): Promise<LogTail | null> {
  const { rows } = await prepared<{ status: string; length: number; text: string; restarted: boolean }>(
    db,
    `SELECT d.status::text AS status, length(COALESCE(d.logs, '')) AS length,
            CASE WHEN length(COALESCE(d.logs, '')) < $2 THEN COALESCE(d.logs, '') ELSE substr(COALESCE(d.logs, ''), $2 + 1) END AS text,
            length(COALESCE(d.logs, '')) < $2 AS restarted
       FROM deployments d WHERE d.id = $1`,
    [deploymentId, from],
  );
  return rows[0] ?? null;
}
