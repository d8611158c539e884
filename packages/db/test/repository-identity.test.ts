import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { namespaceFor } from '@ephemera/schema';
import {
  Prisma,
  advancePullRequestStates,
  createEnvironment,
  createPrismaClient,
  getEnvironmentByPr,
  listEnvironments,
  lockRepository,
  pullRequestLockKey,
  readActionTarget,
  repositoryIdentity,
  repositoryKey,
  repositoryKeySql,
  repositoryNamedAsSql,
  repositoryNames,
  repositoryWhere,
  sameRepository,
  sameRepositoryRowsSql,
  sameRepositorySql,
  type PrismaClient,
  type RepositoryRef,
} from '../src/index.js';
import { LOCK_KEY_SQL } from '../src/lock-key.js';
import { Migrator, defaultPrismaDir } from '../src/migrate/index.js';
import { createScratchDatabase } from '../src/testing.js';

// "The same repository": by GitHub's id when both references carry one, else by full name compared
// case-insensitively. The TypeScript rule, its Prisma `where` and its SQL fragments must give the same answers.

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let db: PrismaClient;
let pool: pg.Pool;
let prCounter = 1;

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await new Migrator({ databaseUrl: scratch.url, prismaDir: defaultPrismaDir() }).migrate();
  db = createPrismaClient({ databaseUrl: scratch.url, poolSize: 4 });
  pool = new pg.Pool({ connectionString: scratch.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.$disconnect();
  await scratch.drop();
});

const ref = (repositoryId: number | null, repositoryFullName: string): RepositoryRef => ({ repositoryId, repositoryFullName });

function environmentOf(repo: RepositoryRef, prNumber = prCounter++) {
  return createEnvironment(db, { ...repo, prNumber, branchName: 'b', commitSha: 'a'.repeat(40), installationId: 1 });
}

describe('keys derived from the identity keep the form existing locks, namespaces and job ids have', () => {
  it.each([
    ref(null, 'Acme/Web'),
    ref(null, 'acme/web'),
    ref(1296269, 'Acme/Web'),
  ])('%o', (repo) => {
    // The formulas each place wrote before the rule was shared.
    const lowered = repo.repositoryFullName.toLowerCase();
    expect(pullRequestLockKey({ ...repo, prNumber: 7 })).toBe(repo.repositoryId !== null ? `repository:${repo.repositoryId}#7` : `${lowered}#7`);
    expect(`repository:${repositoryIdentity(repo)}`).toBe(repo.repositoryId !== null ? `repository:${repo.repositoryId}` : `repository:${lowered}`);
    expect(`fb-${repositoryIdentity(repo)}-7`).toBe(`fb-${repo.repositoryId ?? lowered}-7`);
    const hash = createHash('sha256').update(repo.repositoryId === null ? lowered : `repository:${repo.repositoryId}`).digest('hex').slice(0, 10);
    expect(namespaceFor(repo.repositoryFullName, 7, repo.repositoryId)).toBe(`pr-7-web-${hash}`);
  });
});

describe('two references differing only in case are the same repository', () => {
  const upper = ref(null, 'Case/Sensitive-Repo');
  const lower = ref(null, 'case/sensitive-repo');

  it('in TypeScript, in lock keys and in namespace names', () => {
    expect(sameRepository(upper, lower)).toBe(true);
    expect(repositoryKey(upper)).toBe(repositoryKey(lower));
    expect(pullRequestLockKey({ ...upper, prNumber: 1 })).toBe(pullRequestLockKey({ ...lower, prNumber: 1 }));
    expect(namespaceFor(upper.repositoryFullName, 1)).toBe(namespaceFor(lower.repositoryFullName, 1));
  });

  it("in a pull request's lock taken from its environment row", async () => {
    const env = await environmentOf(ref(null, 'Case/Locked'));
    const [row] = await db.$queryRaw<Array<{ key: string }>>`SELECT ${LOCK_KEY_SQL} AS key FROM environments e WHERE e.id = ${env.id}`;
    expect(row!.key).toBe(pullRequestLockKey({ ...ref(null, 'case/LOCKED'), prNumber: env.prNumber }));
  });

  it("in the repository's lock (MAX_ENVIRONMENTS_PER_REPO)", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const isTaken = new Promise<void>((resolve) => (taken = resolve));
    const holder = db.$transaction(async (tx) => {
      await lockRepository(tx, ref(null, 'Case/Capacity'));
      taken();
      await held;
    });
    await isTaken;
    try {
      await expect(
        db.$transaction(async (tx) => {
          await tx.$executeRaw`SET LOCAL lock_timeout = '200ms'`;
          await lockRepository(tx, ref(null, 'case/capacity'));
        }),
      ).rejects.toThrow(/lock timeout/);
    } finally {
      release();
      await holder;
    }
  });

  it("in a pull request's rows, found by a key in other case (with and without an id)", async () => {
    const env = await environmentOf(ref(null, 'Case/Legacy'));
    expect((await getEnvironmentByPr(db, { ...ref(null, 'CASE/legacy'), prNumber: env.prNumber }))?.id).toBe(env.id);
    expect((await getEnvironmentByPr(db, { ...ref(424242, 'case/LEGACY'), prNumber: env.prNumber }))?.id).toBe(env.id);
  });

  it("in the pull request state an environment action reads", async () => {
    const env = await environmentOf(ref(515151, 'acme/action-target'));
    await db.$executeRaw`INSERT INTO pull_request_states (repository_full_name, pr_number, last_pr_state, updated_at)
                         VALUES ('Acme/Action-Target', ${env.prNumber}, 'closed', now())`;
    expect((await readActionTarget(pool, env.id))?.prState).toBe('closed');
  });

  it('in the list filter of the repositories a user may see', async () => {
    const env = await environmentOf(ref(null, 'Acme/Listed'));
    const page = await listEnvironments(pool, { repositories: { ids: [], fullNames: ['ACME/listed'] }, limit: 10 });
    expect((JSON.parse(page.body) as Array<{ id: number }>).map((e) => e.id)).toEqual([env.id]);
  });

  it("in the API's repository filter, served by the index on the folded name", async () => {
    const env = await environmentOf(ref(31337, 'Acme/Filtered'));
    const page = await listEnvironments(pool, { repositoryFullName: 'ACME/filtered', limit: 10 });
    expect((JSON.parse(page.body) as Array<{ id: number }>).map((e) => e.id)).toEqual([env.id]);
    // A few rows make a sequential scan cheapest; with it priced out, the plan shows whether the filter's
    // expression is the index's.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const sql = `EXPLAIN SELECT e.id FROM environments e WHERE ${repositoryNamedAsSql('e', '$1')} ORDER BY e.created_at DESC, e.id DESC LIMIT 51`;
      const plan = (await client.query<{ 'QUERY PLAN': string }>(sql, repositoryNames(['Acme/Filtered']))).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index Scan using environments_folded_repository_created_at_id_idx/);
      expect(plan).not.toMatch(/Sort/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('in the stale-event guard an installation event advances', async () => {
    const at = new Date('2030-01-01T00:00:00Z');
    await db.$executeRaw`INSERT INTO pull_request_states (repository_full_name, pr_number, installation_id, updated_at)
                         VALUES ('Acme/Removed', 1, 77, now())`;
    await advancePullRequestStates(db, { installationId: 77n, repositoryFullNames: ['acme/REMOVED'] }, at);
    const state = await db.pullRequestState.findFirst({ where: { installationId: 77n } });
    expect(state?.lastEventAt).toEqual(at);
  });

  it("in Prisma's where (the repository's environments)", async () => {
    const env = await environmentOf(ref(null, 'Acme/Counted'));
    expect(await db.environment.count({ where: { id: env.id, ...repositoryWhere(ref(null, 'acme/COUNTED')) } })).toBe(1);
    expect(await db.environment.count({ where: { id: env.id, ...repositoryWhere(ref(99, 'ACME/counted')) } })).toBe(1);
  });
});

describe('the TypeScript rule and its SQL and Prisma twins agree on PostgreSQL', () => {
  const refs = [
    ref(null, 'acme/web'),
    ref(null, 'Acme/Web'),
    ref(null, 'acme/api'),
    // `_` and `%` are wildcards of LIKE: a name must match only itself.
    ref(null, 'acme/my_repo'),
    ref(null, 'acme/myXrepo'),
    ref(null, 'acme/100%'),
    ref(null, 'acme/1000'),
    ref(1, 'acme/web'),
    ref(1, 'Acme/Renamed'),
    ref(2, 'acme/web'),
    ref(2, 'acme/my_repo'),
  ];
  const pairs = refs.flatMap((a) => refs.map((b) => [a, b] as const));

  // The SQL fragments are WHERE conditions: a NULL (no id to compare) counts as no match, hence `IS TRUE`.
  it('on every pair of references', async () => {
    const envs = await Promise.all(refs.map((r) => environmentOf(r)));
    for (const [i, a] of refs.entries()) {
      const expected = refs.map((b) => sameRepository(a, b));
      const [row] = await db.$queryRaw<Array<{ by_key: boolean[]; by_rows: boolean[]; keys: string[] }>>`
        SELECT array_agg((${sameRepositorySql('b', a)}) IS TRUE ORDER BY b.n) AS by_key,
               array_agg((${Prisma.raw(sameRepositoryRowsSql('a', 'b'))}) IS TRUE ORDER BY b.n) AS by_rows,
               array_agg((SELECT ${repositoryKeySql('b')}) ORDER BY b.n) AS keys
          FROM (SELECT * FROM json_to_recordset(${JSON.stringify(refs.map((r, n) => ({ n, repository_id: r.repositoryId, repository_full_name: r.repositoryFullName })))}::json)
                  AS x(n int, repository_id bigint, repository_full_name text)) b,
               (SELECT ${a.repositoryId}::bigint AS repository_id, ${a.repositoryFullName}::text AS repository_full_name) a`;
      expect(row!.by_key).toEqual(expected);
      expect(row!.by_rows).toEqual(expected);
      expect(row!.keys).toEqual(refs.map(repositoryKey));
      const found = await db.environment.findMany({ where: { id: { in: envs.map((e) => e.id) }, ...repositoryWhere(a) }, select: { id: true } });
      expect(envs.map((e) => found.some((f) => f.id === e.id))).toEqual(expected);
      expect(sameRepository(refs[i]!, a)).toBe(true);
    }
    expect(pairs.filter(([a, b]) => sameRepository(a, b) !== sameRepository(b, a))).toEqual([]);
  });
});
