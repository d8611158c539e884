import { IllegalTransitionError, canTransitionEnvironment, type EnvironmentStatus } from '@ephemera/schema';
import type { Db } from './db-client.js';
import { DEFAULT_LOG_MAX_BYTES } from './deployments.js';
import { environmentStatusStamps, type StatusChange } from './environments.js';
import { Prisma } from './generated/prisma/client.js';
import { pullRequestLockKey } from './lock-key.js';
import type { OptimisticWrite, PullRequestWrite, PullRequestWritten } from './pull-request-write.js';
import { assignments } from './sql-fields.js';

/** What every part of the statement is built from. */
interface WriteContext {
  w: PullRequestWrite;
  now: Date;
  repositoryId: bigint | null;
  optimistic: OptimisticWrite | undefined;
  /** Appended to each write's WHERE: with `optimistic`, a write happens only when the delivery is new. */
  gate: Prisma.Sql;
  logMaxBytes: number;
}

type WriteRow = { id: number | null; status: EnvironmentStatus | null; waiting_since: Date | null; installation_id: bigint | null; dep_id: number | null; ok: boolean; fresh: boolean };

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
  const o = options.optimistic;
  const c: WriteContext = {
    w,
    now: new Date(),
    repositoryId: w.key.repositoryId === null ? null : BigInt(w.key.repositoryId),
    optimistic: o,
    gate: o ? Prisma.sql`AND EXISTS (SELECT 1 FROM fresh)` : Prisma.empty,
    logMaxBytes: options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
  };
  const head = o ? optimisticHead(w, o) : Prisma.empty;
  const statement = Prisma.sql`
      WITH ${head} ${supersedeCte(c)} ${environmentCte(c)}, ${deploymentCte(c)} ${stateCte(c)}
      SELECT env.id, env.status::text AS status, env.waiting_since, env.installation_id,
             ${w.deployment ? Prisma.sql`(SELECT id FROM dep)` : Prisma.sql`NULL::int`} AS dep_id,
             ${o ? Prisma.sql`EXISTS (SELECT 1 FROM ok)` : Prisma.sql`true`} AS ok,
             ${o ? Prisma.sql`EXISTS (SELECT 1 FROM fresh)` : Prisma.sql`true`} AS fresh
        FROM (SELECT 1) one LEFT JOIN env ON true`;
  let rows: WriteRow[];
  try {
    rows = await tx.$queryRaw<WriteRow[]>(statement);
  } catch (err) {
    // A row inserted meanwhile by another writer: nothing of the statement stands.
    if (o && isUniqueViolation(err)) return { outcome: 'conflict', environment: null, latest: null };
    throw err;
  }
  return written(w, rows[0]!);
}

/**
 * Optimistic: the lock, the guards on what was read (each row's xmin, which any committed update changes), and the
 * delivery's record, which every write depends on.
 */
function optimisticHead(w: PullRequestWrite, o: OptimisticWrite): Prisma.Sql {
  const current = w.from.environment;
  const guards: Prisma.Sql[] = [];
  if (w.from.state) {
    guards.push(Prisma.sql`EXISTS (SELECT 1 FROM gs)`);
  }
  if (current) {
    guards.push(Prisma.sql`EXISTS (SELECT 1 FROM ge)`);
  }
  const guarded = guards.length > 0 ? Prisma.join(guards, ' AND ') : Prisma.sql`true`;
  return Prisma.sql`
      l AS (SELECT pg_advisory_xact_lock(hashtextextended(${pullRequestLockKey(w.key)}, 0))),
      ${w.from.state ? Prisma.sql`gs AS (SELECT 1 FROM pull_request_states WHERE id = ${w.from.state.id} AND xmin::text = ${w.from.versions?.state ?? ''} AND EXISTS (SELECT 1 FROM l) FOR UPDATE),` : Prisma.empty}
      ${current ? Prisma.sql`ge AS (SELECT 1 FROM environments WHERE id = ${current.id} AND xmin::text = ${w.from.versions?.environment ?? ''} AND EXISTS (SELECT 1 FROM l) FOR UPDATE),` : Prisma.empty}
      ok AS (SELECT 1 WHERE EXISTS (SELECT 1 FROM l) AND ${guarded}),
      fresh AS (
        INSERT INTO processed_deliveries (delivery_id, event, action)
        SELECT ${o.delivery.deliveryId}, ${o.delivery.event}, ${o.delivery.action} WHERE EXISTS (SELECT 1 FROM ok)
        ON CONFLICT (delivery_id) DO NOTHING RETURNING 1),`;
}

function supersedeCte({ w, now, gate, logMaxBytes }: WriteContext): Prisma.Sql {
  return w.supersede && w.supersede.ids.length > 0
    ? Prisma.sql`sup AS (
        UPDATE deployments SET status = 'FAILED', error_message = ${w.supersede.reason}, completed_at = ${now}, updated_at = ${now},
               logs = ephemera_cap_logs(COALESCE(logs, '') || ${`${w.supersede.reason}\n`}, ${logMaxBytes}::int)
         WHERE id = ANY(${w.supersede.ids}::int[]) AND status IN ('QUEUED', 'WAITING', 'IN_PROGRESS') ${gate} RETURNING id),`
    : Prisma.empty;
}

function environmentCte({ w, now, repositoryId, gate }: WriteContext): Prisma.Sql {
  const current = w.from.environment;
  if (w.environment && 'insert' in w.environment) {
    const i = w.environment.insert;
    return Prisma.sql`env AS (
      INSERT INTO environments (repository_id, repository_full_name, repository_name, pr_number, pr_title, branch_name, commit_sha,
                                namespace, environment_url, status, installation_id, owner_id, base_sha, from_fork, waiting_since,
                                destroy_requested_at, updated_at)
      SELECT ${repositoryId}, ${w.key.repositoryFullName}, ${i.repositoryName}, ${w.key.prNumber}, ${i.prTitle}, ${i.branchName}, ${i.commitSha},
             ${i.namespace}, ${i.environmentUrl}, ${i.status}::environment_status, ${i.installationId}, ${i.ownerId}, ${i.baseSha}, ${i.fromFork},
             ${i.waitingSince}, ${i.status === 'DESTROYING' ? now : null}, ${now}
       WHERE true ${gate}
      RETURNING id, status, waiting_since, installation_id)`;
  }
  if (w.environment && current) {
    const to = w.environment.status;
    if (to !== undefined && to !== current.status && !canTransitionEnvironment(current.status, to)) {
      throw new IllegalTransitionError('environment', current.status, to, current.id);
    }
    const stamps = to !== undefined && to !== current.status ? environmentStatusStamps(to, {} as StatusChange, now) : {};
    const { status, ...rest } = stamps as { status?: EnvironmentStatus } & Record<string, unknown>;
    return Prisma.sql`env AS (
      UPDATE environments SET ${assignments({ repositoryId, repositoryFullName: w.key.repositoryFullName, ...w.environment.update, ...rest, updatedAt: now })}
             ${status !== undefined ? Prisma.sql`, status = ${status}::environment_status` : Prisma.empty}
       WHERE id = ${current.id} AND status = ${current.status}::environment_status ${gate}
      RETURNING id, status, waiting_since, installation_id)`;
  }
  return Prisma.sql`env AS (SELECT id, status, waiting_since, installation_id FROM environments WHERE false)`;
}

function deploymentCte({ w, now }: WriteContext): Prisma.Sql {
  return w.deployment
    ? Prisma.sql`dep AS (
        INSERT INTO deployments (environment_id, commit_sha, commit_message, status, updated_at)
        SELECT id, ${w.deployment.commitSha}, ${w.deployment.commitMessage}, 'QUEUED', ${now} FROM env RETURNING id, status),`
    : Prisma.empty;
}

function stateCte({ w, now, repositoryId, gate, optimistic }: WriteContext): Prisma.Sql {
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
  return w.from.state
    ? Prisma.sql`st AS (UPDATE pull_request_states SET ${assignments(stateFields)} WHERE id = ${w.from.state.id} ${gate} RETURNING 1)`
    : Prisma.sql`st AS (
        INSERT INTO pull_request_states (repository_id, repository_full_name, pr_number, installation_id, last_event_at, approved_sha,
                                         approved_by, review_approved_sha, review_approved_by, review_approval_id,
                                         trusted_sha, held_sha, last_pr_state, last_head_sha, note, updated_at)
        SELECT ${repositoryId}, ${w.key.repositoryFullName}, ${w.key.prNumber}, ${s.installationId}, ${s.lastEventAt}, ${s.approvedSha},
               ${s.approvedBy}, ${s.reviewApprovedSha}, ${s.reviewApprovedBy}, ${s.reviewApprovalId}::bigint,
               ${s.trustedSha}, ${s.heldSha}, ${s.lastPrState}, ${s.lastHeadSha}, ${s.note}, ${now}
         WHERE true ${gate}
        ${optimistic
          ? Prisma.empty
          : // Made meanwhile by a feedback job, which does not take the lock.
            Prisma.sql`ON CONFLICT (repository_id, pr_number) DO UPDATE SET ${assignments(stateFields)}`}
        RETURNING 1)`;
}

/** The outcome, the environment and the latest deployment after the statement, from its one row. */
function written(w: PullRequestWrite, row: WriteRow): PullRequestWritten {
  const current = w.from.environment;
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
