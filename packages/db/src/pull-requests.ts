import { IllegalTransitionError, canTransitionEnvironment, type DeploymentStatus, type EnvironmentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import { DEFAULT_LOG_MAX_BYTES } from './deployments.js';
import { environmentStatusStamps, type StatusChange } from './environments.js';
import { Prisma, type Environment, type PullRequestState } from './generated/prisma/client.js';
import { LOCK_KEY_SQL, pullRequestLockKey, type PullRequestKey } from './lock-key.js';
import { sameRepositorySql } from './repository-identity.js';
import { assignments, selectFields } from './sql-fields.js';

export { pullRequestLockKey, type PullRequestKey };

// The worker's hot path: what one webhook, one deploy step or one feedback job reads and writes, in as few
// statements as the rules allow. Every write here runs under the pull request's advisory lock, inside the
// caller's transaction; state-machine rules are checked in code against the row read under that lock, and the
// statements repeat the check in their WHERE so a bug cannot write an illegal move silently.

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

const ENVIRONMENT_COLUMNS = selectFields(Prisma.EnvironmentScalarFieldEnum, 'e');
const STATE_COLUMNS = selectFields(Prisma.PullRequestStateScalarFieldEnum, 's');

/** Matches a pull request's row: by repository id, or by name for a row made before the id was kept. */
function matches(alias: string, key: PullRequestKey): Prisma.Sql {
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
    SELECT ${ENVIRONMENT_COLUMNS} FROM environments e WHERE ${matches('e', key)} ORDER BY e.repository_id NULLS LAST LIMIT 1`;
  return rows[0] ?? null;
}

/** The pull request's environment, its state row, its latest deployment and its active ones: one statement. */
export async function readPullRequest(db: Db, key: PullRequestKey, extra?: Prisma.Sql): Promise<PullRequestRecord & { extra?: unknown }> {
  const rows = await db.$queryRaw<Array<{ env: Record<string, unknown> | null; state: Record<string, unknown> | null; latest: DeploymentRef | null; active: number[] | null; extra?: unknown }>>`
    WITH e AS (SELECT ${ENVIRONMENT_COLUMNS}, e.xmin::text AS "rowVersion" FROM environments e WHERE ${matches('e', key)} ORDER BY e.repository_id NULLS LAST LIMIT 1),
         s AS (SELECT ${STATE_COLUMNS}, s.xmin::text AS "rowVersion" FROM pull_request_states s WHERE ${matches('s', key)} ORDER BY s.repository_id NULLS LAST LIMIT 1)
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
    environment: row.env ? environmentFromJson(env) : null,
    state: row.state ? stateFromJson(state) : null,
    latest: row.latest,
    active: row.active ?? [],
    versions: { environment: environmentVersion as string | null, state: stateVersion as string | null },
    ...(extra ? { extra: row.extra } : {}),
  };
}

const DATE_FIELDS = new Set(['lastDeployedAt', 'createdAt', 'updatedAt', 'destroyedAt', 'waitingSince', 'destroyRequestedAt', 'lastEventAt', 'commentClaimedAt', 'lastActionAt', 'afterCreateSucceededAt']);
const BIGINT_FIELDS = new Set(['repositoryId', 'installationId', 'commentId', 'id', 'reviewApprovalId']);

/** row_to_json renders timestamps as text and bigints as numbers: they are turned back into what Prisma returns. */
function revive<T>(json: Record<string, unknown>, bigints: Set<string>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    if (v !== null && DATE_FIELDS.has(k)) out[k] = new Date(v as string);
    else if (v !== null && bigints.has(k)) out[k] = BigInt(v as number | string);
    else out[k] = v;
  }
  return out as T;
}
const environmentFromJson = (j: Record<string, unknown>) => revive<Environment>(j, new Set(['repositoryId', 'installationId']));
const stateFromJson = (j: Record<string, unknown>) => revive<PullRequestState>(j, BIGINT_FIELDS);

/** A new environment, as the reconciler decides it. */
export interface EnvironmentInsert {
  repositoryName: string;
  prTitle: string | null;
  branchName: string;
  commitSha: string;
  namespace: string;
  environmentUrl: string | null;
  status: 'PENDING' | 'DESTROYING';
  installationId: bigint;
  ownerId: number | null;
  baseSha: string | null;
  fromFork: boolean;
  waitingSince: Date | null;
}

/** Fields of an existing environment kept current from the event. */
export interface EnvironmentFields {
  repositoryName: string;
  prTitle: string | null;
  branchName: string;
  fromFork: boolean;
  baseSha?: string | null;
  commitSha?: string;
  installationId?: bigint;
  waitingSince?: Date | null;
}

export interface PullRequestStateFields {
  installationId: bigint | null;
  lastEventAt: Date;
  /** A fork's commit approved with the approval label, and who added it. */
  approvedSha: string | null;
  approvedBy: string | null;
  /** A fork's commit approved by a review (`review.commit_id`), who submitted it, and the review's id. */
  reviewApprovedSha: string | null;
  reviewApprovedBy: string | null;
  reviewApprovalId: bigint | null;
  trustedSha: string | null;
  heldSha: string | null;
  lastPrState: string;
  lastHeadSha: string;
  note: string | null;
}

/** Everything one event changes on a pull request, written in one statement by {@link writePullRequest}. */
export interface PullRequestWrite {
  key: PullRequestKey;
  /** The record it was decided from (read under the same lock). */
  from: PullRequestRecord;
  /** Queued or running deployments that end as FAILED with this reason. */
  supersede: { ids: number[]; reason: string } | null;
  environment:
    | { insert: EnvironmentInsert }
    | { update: EnvironmentFields; status?: EnvironmentStatus }
    | null;
  /** A new QUEUED deployment of the environment. */
  deployment: { commitSha: string; commitMessage: string | null } | null;
  state: PullRequestStateFields;
}

export interface PullRequestWritten {
  /** `duplicate`: the delivery was applied before; `conflict`: the pull request changed since it was read (optimistic only). */
  outcome: 'applied' | 'duplicate' | 'conflict';
  environment: { id: number; status: EnvironmentStatus; waitingSince: Date | null; installationId: bigint } | null;
  /** The latest deployment after the write. */
  latest: { id: number; status: DeploymentStatus } | null;
}

/**
 * A write made without a transaction: the delivery is recorded in the same statement, which takes the pull request's
 * lock itself and writes only if the rows read are unchanged (see {@link writePullRequest}).
 */
export interface OptimisticWrite {
  delivery: { deliveryId: string; event: string; action: string | null };
}

/**
 * Applies one event's decision: supersedes deployments, inserts or updates the environment (its status move
 * checked against the state machine), queues a deployment and upserts the pull request's state, as one statement
 * of data-modifying CTEs. The key's repository id and name are recorded on both rows (a row found by name
 * adopts the id; a renamed repository's rows take the new name).
 *
 * In a transaction that holds the pull request's lock and read `w.from` under it, that is all. With `optimistic`,
 * the statement is the whole transaction: it takes the lock, locks the state and environment rows read (`FOR
 * UPDATE` reads their latest version) and goes on only if they are unchanged since `w.from` was read; then it
 * records the delivery, and writes only if the delivery is new. Otherwise nothing is written and the outcome says
 * why: `conflict` (read again and decide again) or `duplicate`. Rows that appeared meanwhile make an insert fail
 * on its unique key, which is a conflict too.
 */
export async function writePullRequest(tx: Db, w: PullRequestWrite, options: { optimistic?: OptimisticWrite; logMaxBytes?: number } = {}): Promise<PullRequestWritten> {
  const now = new Date();
  const logMaxBytes = options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const repositoryId = w.key.repositoryId === null ? null : BigInt(w.key.repositoryId);
  const current = w.from.environment;
  const o = options.optimistic;

  // Optimistic: the lock, the guards on what was read (each row's xmin, which any committed update changes), and the
  // delivery's record, which every write depends on.
  let head = Prisma.empty;
  let gate = Prisma.empty;
  if (o) {
    const guards: Prisma.Sql[] = [];
    if (w.from.state) {
      guards.push(Prisma.sql`EXISTS (SELECT 1 FROM gs)`);
    }
    if (current) {
      guards.push(Prisma.sql`EXISTS (SELECT 1 FROM ge)`);
    }
    const guarded = guards.length > 0 ? Prisma.join(guards, ' AND ') : Prisma.sql`true`;
    head = Prisma.sql`
      l AS (SELECT pg_advisory_xact_lock(hashtextextended(${pullRequestLockKey(w.key)}, 0))),
      ${w.from.state ? Prisma.sql`gs AS (SELECT 1 FROM pull_request_states WHERE id = ${w.from.state.id} AND xmin::text = ${w.from.versions?.state ?? ''} AND EXISTS (SELECT 1 FROM l) FOR UPDATE),` : Prisma.empty}
      ${current ? Prisma.sql`ge AS (SELECT 1 FROM environments WHERE id = ${current.id} AND xmin::text = ${w.from.versions?.environment ?? ''} AND EXISTS (SELECT 1 FROM l) FOR UPDATE),` : Prisma.empty}
      ok AS (SELECT 1 WHERE EXISTS (SELECT 1 FROM l) AND ${guarded}),
      fresh AS (
        INSERT INTO processed_deliveries (delivery_id, event, action)
        SELECT ${o.delivery.deliveryId}, ${o.delivery.event}, ${o.delivery.action} WHERE EXISTS (SELECT 1 FROM ok)
        ON CONFLICT (delivery_id) DO NOTHING RETURNING 1),`;
    gate = Prisma.sql`AND EXISTS (SELECT 1 FROM fresh)`;
  }

  const supersede = w.supersede && w.supersede.ids.length > 0
    ? Prisma.sql`sup AS (
        UPDATE deployments SET status = 'FAILED', error_message = ${w.supersede.reason}, completed_at = ${now}, updated_at = ${now},
               logs = ephemera_cap_logs(COALESCE(logs, '') || ${`${w.supersede.reason}\n`}, ${logMaxBytes}::int)
         WHERE id = ANY(${w.supersede.ids}::int[]) AND status IN ('QUEUED', 'WAITING', 'IN_PROGRESS') ${gate} RETURNING id),`
    : Prisma.empty;

  let env: Prisma.Sql;
  if (w.environment && 'insert' in w.environment) {
    const i = w.environment.insert;
    env = Prisma.sql`env AS (
      INSERT INTO environments (repository_id, repository_full_name, repository_name, pr_number, pr_title, branch_name, commit_sha,
                                namespace, environment_url, status, installation_id, owner_id, base_sha, from_fork, waiting_since,
                                destroy_requested_at, updated_at)
      SELECT ${repositoryId}, ${w.key.repositoryFullName}, ${i.repositoryName}, ${w.key.prNumber}, ${i.prTitle}, ${i.branchName}, ${i.commitSha},
             ${i.namespace}, ${i.environmentUrl}, ${i.status}::environment_status, ${i.installationId}, ${i.ownerId}, ${i.baseSha}, ${i.fromFork},
             ${i.waitingSince}, ${i.status === 'DESTROYING' ? now : null}, ${now}
       WHERE true ${gate}
      RETURNING id, status, waiting_since, installation_id)`;
  } else if (w.environment && current) {
    const to = w.environment.status;
    if (to !== undefined && to !== current.status && !canTransitionEnvironment(current.status, to)) {
      throw new IllegalTransitionError('environment', current.status, to, current.id);
    }
    const stamps = to !== undefined && to !== current.status ? environmentStatusStamps(to, {} as StatusChange, now) : {};
    const { status, ...rest } = stamps as { status?: EnvironmentStatus } & Record<string, unknown>;
    env = Prisma.sql`env AS (
      UPDATE environments SET ${assignments({ repositoryId, repositoryFullName: w.key.repositoryFullName, ...w.environment.update, ...rest, updatedAt: now })}
             ${status !== undefined ? Prisma.sql`, status = ${status}::environment_status` : Prisma.empty}
       WHERE id = ${current.id} AND status = ${current.status}::environment_status ${gate}
      RETURNING id, status, waiting_since, installation_id)`;
  } else {
    env = Prisma.sql`env AS (SELECT id, status, waiting_since, installation_id FROM environments WHERE false)`;
  }

  const deployment = w.deployment
    ? Prisma.sql`dep AS (
        INSERT INTO deployments (environment_id, commit_sha, commit_message, status, updated_at)
        SELECT id, ${w.deployment.commitSha}, ${w.deployment.commitMessage}, 'QUEUED', ${now} FROM env RETURNING id, status),`
    : Prisma.empty;

  const s = w.state;
  const stateFields = {
    repositoryId,
    repositoryFullName: w.key.repositoryFullName,
    lastEventAt: s.lastEventAt,
    approvedSha: s.approvedSha,
    approvedBy: s.approvedBy,
    reviewApprovedSha: s.reviewApprovedSha,
    reviewApprovedBy: s.reviewApprovedBy,
    reviewApprovalId: s.reviewApprovalId,
    trustedSha: s.trustedSha,
    heldSha: s.heldSha,
    lastPrState: s.lastPrState,
    lastHeadSha: s.lastHeadSha,
    note: s.note,
    updatedAt: now,
    ...(s.installationId !== null ? { installationId: s.installationId } : {}),
  };
  const state = w.from.state
    ? Prisma.sql`st AS (UPDATE pull_request_states SET ${assignments(stateFields)} WHERE id = ${w.from.state.id} ${gate} RETURNING 1)`
    : Prisma.sql`st AS (
        INSERT INTO pull_request_states (repository_id, repository_full_name, pr_number, installation_id, last_event_at, approved_sha,
                                         approved_by, review_approved_sha, review_approved_by, review_approval_id,
                                         trusted_sha, held_sha, last_pr_state, last_head_sha, note, updated_at)
        SELECT ${repositoryId}, ${w.key.repositoryFullName}, ${w.key.prNumber}, ${s.installationId}, ${s.lastEventAt}, ${s.approvedSha},
               ${s.approvedBy}, ${s.reviewApprovedSha}, ${s.reviewApprovedBy}, ${s.reviewApprovalId}::bigint,
               ${s.trustedSha}, ${s.heldSha}, ${s.lastPrState}, ${s.lastHeadSha}, ${s.note}, ${now}
         WHERE true ${gate}
        ${o
          ? Prisma.empty
          : // Made meanwhile by a feedback job, which does not take the lock.
            Prisma.sql`ON CONFLICT (repository_id, pr_number) DO UPDATE SET ${assignments(stateFields)}`}
        RETURNING 1)`;

  let rows: Array<{ id: number | null; status: EnvironmentStatus | null; waiting_since: Date | null; installation_id: bigint | null; dep_id: number | null; ok: boolean; fresh: boolean }>;
  try {
    rows = await tx.$queryRaw`
      WITH ${head} ${supersede} ${env}, ${deployment} ${state}
      SELECT env.id, env.status::text AS status, env.waiting_since, env.installation_id,
             ${w.deployment ? Prisma.sql`(SELECT id FROM dep)` : Prisma.sql`NULL::int`} AS dep_id,
             ${o ? Prisma.sql`EXISTS (SELECT 1 FROM ok)` : Prisma.sql`true`} AS ok,
             ${o ? Prisma.sql`EXISTS (SELECT 1 FROM fresh)` : Prisma.sql`true`} AS fresh
        FROM (SELECT 1) one LEFT JOIN env ON true`;
  } catch (err) {
    // A row inserted meanwhile by another writer: nothing of the statement stands.
    if (o && isUniqueViolation(err)) return { outcome: 'conflict', environment: null, latest: null };
    throw err;
  }
  const row = rows[0]!;
  if (!row.ok) return { outcome: 'conflict', environment: null, latest: null };
  if (!row.fresh) return { outcome: 'duplicate', environment: null, latest: null };
  if (w.environment && row.id === null) {
    // The environment changed under the lock (a bug, or a write outside it).
    throw new IllegalTransitionError('environment', current?.status ?? 'none', w.environment && 'update' in w.environment ? (w.environment.status ?? current?.status ?? 'none') : 'PENDING', current?.id);
  }
  const environment = row.id === null ? (current ? { id: current.id, status: current.status, waitingSince: current.waitingSince, installationId: current.installationId } : null) : { id: row.id, status: row.status!, waitingSince: row.waiting_since, installationId: BigInt(row.installation_id!) };
  let latest: PullRequestWritten['latest'] = w.from.latest ? { id: w.from.latest.id, status: w.from.latest.status } : null;
  if (row.dep_id !== null) latest = { id: row.dep_id, status: 'QUEUED' };
  else if (latest && w.supersede?.ids.includes(latest.id)) latest = { id: latest.id, status: 'FAILED' };
  return { outcome: 'applied', environment, latest };
}

/** A unique-key violation as the driver adapter reports it (Prisma's P2002, or PostgreSQL's 23505 in a raw query). */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; meta?: { code?: string; driverAdapterError?: { cause?: { kind?: string; originalCode?: string } } }; message?: string };
  return (
    e.code === 'P2002' ||
    e.meta?.code === '23505' ||
    e.meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation' ||
    e.meta?.driverAdapterError?.cause?.originalCode === '23505' ||
    /\b23505\b|unique constraint/i.test(e.message ?? '')
  );
}

/**
 * Advances the stale-event guard of the pull requests an installation event ended (uninstalled, suspended,
 * repositories removed): a pull_request event older than it, arriving late, must not bring a preview back.
 */
export async function advancePullRequestStates(tx: Db, where: { installationId: bigint; repositoryIds?: bigint[]; repositoryFullNames?: string[] }, at: Date): Promise<void> {
  const repositories = where.repositoryIds || where.repositoryFullNames
    ? Prisma.sql`AND (repository_id = ANY(${where.repositoryIds ?? []}::bigint[]) OR repository_full_name = ANY(${where.repositoryFullNames ?? []}::text[]))`
    : Prisma.empty;
  await tx.$executeRaw`
    UPDATE pull_request_states SET last_event_at = GREATEST(COALESCE(last_event_at, ${at}), ${at}), updated_at = now()
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
     WHERE ${matches('s', key)}`;
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
  return { environment: row.env ? environmentFromJson(row.env) : null, deployment: row.dep };
}

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
  return { environment: environmentFromJson(row.env), commitSha: row.commit_sha, restartedAt: row.restarted_at };
}
