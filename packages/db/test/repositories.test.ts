import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { IllegalTransitionError, environmentResponseSchema, isValidNamespace, type EnvironmentStatus } from '@ephemera/schema';
import {
  ConflictError,
  NotFoundError,
  createDeployment,
  createEnvironment,
  createPrismaClient,
  createUser,
  getDeploymentsByEnvironment,
  getEnvironmentByPr,
  getLatestDeployment,
  getOrCreateUser,
  getUserByGithubId,
  moveDeployment,
  updateEnvironmentStatus,
  appendDeploymentLogs,
  apiJsonSelectList,
  environmentActionApplied,
  writeEnvironmentAction,
  type EnvironmentActionWrite,
  environmentApiJson,
  type PrismaClient,
} from '../src/index.js';
import { LOCK_KEY_SQL, pullRequestLockKey } from '../src/lock-key.js';
import { Migrator, defaultPrismaDir } from '../src/migrate/index.js';

/** A stable id per repository name, as GitHub gives each repository one. */
const repositoryIdOf = (fullName: string) => [...fullName.toLowerCase()].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000_007, 7);
import { createScratchDatabase } from '../src/testing.js';

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let db: PrismaClient;
let prCounter = 1;
const sha = (c: string) => c.repeat(40).slice(0, 40);

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await new Migrator({ databaseUrl: scratch.url, prismaDir: defaultPrismaDir() }).migrate();
  db = createPrismaClient({ databaseUrl: scratch.url, poolSize: 4 });
});
afterAll(async () => {
  await db.$disconnect();
  await scratch.drop();
});

async function newEnvironment(
  overrides: { status?: EnvironmentStatus; repo?: string; prTitle?: string; ownerId?: number } = {},
) {
  const repositoryFullName = overrides.repo ?? 'acme/web';
  return createEnvironment(db, {
    repositoryId: repositoryIdOf(repositoryFullName),
    repositoryFullName,
    prNumber: prCounter++,
    prTitle: overrides.prTitle ?? 'A change',
    ...(overrides.ownerId !== undefined ? { ownerId: overrides.ownerId } : {}),
    branchName: 'feature',
    commitSha: sha('a'),
    installationId: 3_000_000_000,
    previewBaseDomain: 'preview.example.com',
    ...(overrides.status ? { status: overrides.status } : {}),
  });
}

describe('users', () => {
  it('creates, finds by github_id, and keeps ids above 2^31', async () => {
    const user = await createUser(db, { githubId: 2_200_000_000, githubLogin: 'big-id' });
    expect(user.githubId).toBe(2_200_000_000n);
    expect(user.isActive).toBe(true);
    expect((await getUserByGithubId(db, 2_200_000_000))?.id).toBe(user.id);
    expect(await getUserByGithubId(db, 999)).toBeNull();
  });

  it('refuses a duplicate github_id with a ConflictError', async () => {
    await createUser(db, { githubId: 501, githubLogin: 'first' });
    await expect(createUser(db, { githubId: 501, githubLogin: 'second' })).rejects.toThrow(ConflictError);
    expect((await getUserByGithubId(db, 501))?.githubLogin).toBe('first');
  });

  it('getOrCreateUser upserts and syncs login and avatar without erasing a known email', async () => {
    const created = await getOrCreateUser(db, {
      githubId: 777,
      githubLogin: 'octocat',
      email: 'octo@example.com',
      avatarUrl: 'https://a/1',
    });
    const synced = await getOrCreateUser(db, { githubId: 777, githubLogin: 'octocat-renamed', avatarUrl: 'https://a/2' });
    expect(synced.id).toBe(created.id);
    expect(synced.githubLogin).toBe('octocat-renamed');
    expect(synced.avatarUrl).toBe('https://a/2');
    expect(synced.email).toBe('octo@example.com');
  });

  it('getOrCreateUser called concurrently for a new account creates exactly one row', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => getOrCreateUser(db, { githubId: 4242, githubLogin: 'racer' })),
    );
    expect(new Set(results.map((u) => u.id)).size).toBe(1);
    expect(await db.user.count({ where: { githubId: 4242n } })).toBe(1);
  });
});

describe('environments', () => {
  it('creates PENDING with a DNS-safe namespace and its URL, findable by PR and namespace', async () => {
    const owner = await getOrCreateUser(db, { githubId: 1001, githubLogin: 'owner' });
    const env = await createEnvironment(db, {
      repositoryId: 4242,
      repositoryFullName: 'Acme/Shop.Front',
      prNumber: 12,
      branchName: 'topic',
      commitSha: sha('b'),
      installationId: 5,
      ownerId: owner.id,
      previewBaseDomain: 'preview.example.com',
    });
    expect(env.status).toBe('PENDING');
    expect(env.repositoryName).toBe('Shop.Front');
    expect(isValidNamespace(env.namespace)).toBe(true);
    expect(env.environmentUrl).toBe(`https://${env.namespace}.preview.example.com`);
    expect(env.installationId).toBe(5n);
    expect(env.repositoryId).toBe(4242n);
    // By id, whatever the repository is called now; not by another PR number or another repository's id.
    expect((await getEnvironmentByPr(db, { repositoryId: 4242, repositoryFullName: 'acme/renamed', prNumber: 12 }))?.id).toBe(env.id);
    expect(await getEnvironmentByPr(db, { repositoryId: 4242, repositoryFullName: 'Acme/Shop.Front', prNumber: 13 })).toBeNull();
    expect(await getEnvironmentByPr(db, { repositoryId: 4243, repositoryFullName: 'Acme/Shop.Front', prNumber: 12 })).toBeNull();
  });

  it('allows one environment per repository (by id, whatever its name) and PR', async () => {
    const env = await newEnvironment();
    await expect(
      createEnvironment(db, {
        repositoryId: env.repositoryId,
        repositoryFullName: 'acme/renamed-meanwhile',
        prNumber: env.prNumber,
        branchName: 'other',
        commitSha: sha('c'),
        installationId: 1,
        namespace: 'some-other-namespace',
      }),
    ).rejects.toThrow(ConflictError);
  });

  it('refuses a duplicate namespace', async () => {
    const env = await newEnvironment();
    await expect(
      createEnvironment(db, {
        repositoryId: 99,
        repositoryFullName: 'other/repo',
        prNumber: 1,
        branchName: 'x',
        commitSha: sha('c'),
        installationId: 1,
        namespace: env.namespace,
      }),
    ).rejects.toThrow(/already exists/);
  });

  it('walks the lifecycle, stamping last_deployed_at and destroyed_at, and comes back on reopen', async () => {
    const env = await newEnvironment();
    await updateEnvironmentStatus(db, env.id, 'PROVISIONING');
    const ready = await updateEnvironmentStatus(db, env.id, 'READY');
    expect(ready.lastDeployedAt).toBeInstanceOf(Date);
    await updateEnvironmentStatus(db, env.id, 'UPDATING');
    await updateEnvironmentStatus(db, env.id, 'READY');
    await updateEnvironmentStatus(db, env.id, 'DESTROYING');
    const destroyed = await updateEnvironmentStatus(db, env.id, 'DESTROYED');
    expect(destroyed.destroyedAt).toBeInstanceOf(Date);
    const reopened = await updateEnvironmentStatus(db, env.id, 'PENDING');
    expect(reopened.destroyedAt).toBeNull();
    expect(reopened.namespace).toBe(env.namespace);
  });

  it('stores the reason with FAILED and clears it on the next status', async () => {
    const env = await newEnvironment();
    await updateEnvironmentStatus(db, env.id, 'PROVISIONING');
    const failed = await updateEnvironmentStatus(db, env.id, 'FAILED', { errorMessage: 'image pull failed' });
    expect(failed.errorMessage).toBe('image pull failed');
    const retried = await updateEnvironmentStatus(db, env.id, 'PENDING');
    expect(retried.errorMessage).toBeNull();
  });

  it('rejects every illegal transition and writes nothing', async () => {
    const illegal: Array<[EnvironmentStatus, EnvironmentStatus]> = [
      ['PENDING', 'READY'],
      ['PENDING', 'UPDATING'],
      ['PENDING', 'DESTROYED'],
      ['PENDING', 'PENDING'],
      ['PROVISIONING', 'UPDATING'],
      ['PROVISIONING', 'PENDING'],
      ['PROVISIONING', 'DESTROYED'],
      ['READY', 'READY'],
      ['READY', 'PROVISIONING'],
      ['READY', 'PENDING'],
      ['READY', 'DESTROYED'],
      ['UPDATING', 'PROVISIONING'],
      ['UPDATING', 'PENDING'],
      ['UPDATING', 'DESTROYED'],
      ['DESTROYING', 'READY'],
      ['DESTROYING', 'PENDING'],
      ['DESTROYING', 'PROVISIONING'],
      ['DESTROYING', 'UPDATING'],
      ['DESTROYED', 'READY'],
      ['DESTROYED', 'PROVISIONING'],
      ['DESTROYED', 'UPDATING'],
      ['DESTROYED', 'DESTROYING'],
      ['DESTROYED', 'FAILED'],
      ['FAILED', 'READY'],
      ['FAILED', 'DESTROYED'],
    ];
    for (const [from, to] of illegal) {
      const env = await newEnvironment({ status: from });
      const error = await updateEnvironmentStatus(db, env.id, to).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect((error as IllegalTransitionError).from).toBe(from);
      const after = await db.environment.findUniqueOrThrow({ where: { id: env.id } });
      expect(after.status).toBe(from);
      expect(after.updatedAt.getTime()).toBe(env.updatedAt.getTime());
    }
  });

  it('lets exactly one of two racing writers make the same move', async () => {
    const env = await newEnvironment({ status: 'READY' });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => updateEnvironmentStatus(db, env.id, 'UPDATING')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(IllegalTransitionError);
    }
  });

  it('reports a missing environment as NotFoundError', async () => {
    await expect(updateEnvironmentStatus(db, 999_999, 'READY')).rejects.toThrow(NotFoundError);
  });
});

describe("environments' API JSON (api_json, kept by a trigger)", () => {
  /** The row rendered live from the fields derived from environmentResponseSchema, next to the stored JSON. */
  async function storedAndLive(id: number): Promise<{ stored: unknown; live: unknown }> {
    const c = new pg.Client({ connectionString: scratch.url, options: '-c TimeZone=UTC' });
    await c.connect();
    try {
      const { rows } = await c.query<{ stored: string; live: string }>(
        `SELECT e.api_json AS stored, (SELECT row_to_json(r) FROM (SELECT ${apiJsonSelectList(environmentApiJson, 'e')}) r)::text AS live
           FROM environments e WHERE e.id = $1`,
        [id],
      );
      const stored: unknown = JSON.parse(rows[0]!.stored);
      environmentResponseSchema.strict().parse(stored);
      return { stored, live: JSON.parse(rows[0]!.live) };
    } finally {
      await c.end();
    }
  }

  it('is rendered on insert with the owner embedded, and follows every update', async () => {
    const owner = await createUser(db, { githubId: 7_000_001, githubLogin: 'json-owner' });
    const env = await newEnvironment({ repo: 'json/render', prTitle: 'Quotes " and \\ and ünïcode', ownerId: owner.id });
    let { stored, live } = await storedAndLive(env.id);
    expect(stored).toEqual(live);
    expect(stored).toMatchObject({ id: env.id, owner: 'json-owner', pr_title: 'Quotes " and \\ and ünïcode', installation_id: 3_000_000_000 });

    await updateEnvironmentStatus(db, env.id, 'PROVISIONING');
    await updateEnvironmentStatus(db, env.id, 'FAILED', { errorMessage: 'image pull failed' });
    await db.environment.update({ where: { id: env.id }, data: { commitSha: sha('f'), prTitle: 'Second title' } });
    ({ stored, live } = await storedAndLive(env.id));
    expect(stored).toEqual(live);
    expect(stored).toMatchObject({ status: 'FAILED', error_message: 'image pull failed', commit_sha: sha('f'), pr_title: 'Second title' });
  });

  it('writes timestamps in UTC whatever the time zone of the session that wrote the row', async () => {
    const env = await newEnvironment({ repo: 'json/zone' });
    const c = new pg.Client({ connectionString: scratch.url, options: '-c TimeZone=Asia/Kolkata' });
    await c.connect();
    try {
      await c.query(`UPDATE environments SET last_deployed_at = '2026-03-01T12:00:00Z' WHERE id = $1`, [env.id]);
    } finally {
      await c.end();
    }
    const { stored, live } = await storedAndLive(env.id);
    expect(stored).toEqual(live);
    expect((stored as { last_deployed_at: string }).last_deployed_at).toBe('2026-03-01T12:00:00+00:00');
  });

  it("follows the owner's login when the GitHub account is renamed, and the owner's removal", async () => {
    const owner = await createUser(db, { githubId: 7_000_002, githubLogin: 'before-rename' });
    const env = await newEnvironment({ repo: 'json/owner', ownerId: owner.id });
    await getOrCreateUser(db, { githubId: 7_000_002, githubLogin: 'after-rename' });
    expect((await storedAndLive(env.id)).stored).toMatchObject({ owner: 'after-rename', owner_id: owner.id });

    await db.user.delete({ where: { id: owner.id } });
    const { stored, live } = await storedAndLive(env.id);
    expect(stored).toEqual(live);
    expect(stored).toMatchObject({ owner: null, owner_id: null });
  });
});

describe('deployments', () => {
  it('creates QUEUED, lists newest first and finds the latest', async () => {
    const env = await newEnvironment();
    const first = await createDeployment(db, { environmentId: env.id, commitSha: sha('1'), commitMessage: 'one' });
    const second = await createDeployment(db, { environmentId: env.id, commitSha: sha('2') });
    expect(first.status).toBe('QUEUED');
    expect((await getDeploymentsByEnvironment(db, env.id)).map((d) => d.id)).toEqual([second.id, first.id]);
    expect((await getLatestDeployment(db, env.id))?.id).toBe(second.id);
    expect(await getLatestDeployment(db, 999_999)).toBeNull();
  });

  it('stamps started_at and completed_at, and appends logs', async () => {
    const env = await newEnvironment();
    const d = await createDeployment(db, { environmentId: env.id, commitSha: sha('3') });
    expect(await moveDeployment(db, { deploymentId: d.id, from: ['QUEUED'], to: 'IN_PROGRESS', appendLogs: 'creating namespace\n' })).toEqual({ deployment: true, environment: false });
    const running = await db.deployment.findUniqueOrThrow({ where: { id: d.id } });
    expect(running.startedAt).toBeInstanceOf(Date);
    expect(running.completedAt).toBeNull();
    await appendDeploymentLogs(db, d.id, 'rolling out\n');
    await moveDeployment(db, { deploymentId: d.id, from: ['IN_PROGRESS'], to: 'SUCCESS', appendLogs: 'ready\n' });
    const done = await db.deployment.findUniqueOrThrow({ where: { id: d.id } });
    expect(done.status).toBe('SUCCESS');
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.startedAt).toEqual(running.startedAt);
    expect(done.logs).toBe('creating namespace\nrolling out\nready\n');
  });

  it('throws on an illegal deployment move, refuses one from another status, and writes nothing for either', async () => {
    const env = await newEnvironment({ status: 'READY' });
    const d = await createDeployment(db, { environmentId: env.id, commitSha: sha('4') });
    await expect(moveDeployment(db, { deploymentId: d.id, from: ['QUEUED'], to: 'SUCCESS' })).rejects.toThrow(IllegalTransitionError);
    await moveDeployment(db, { deploymentId: d.id, from: ['QUEUED'], to: 'IN_PROGRESS' });
    await moveDeployment(db, { deploymentId: d.id, from: ['IN_PROGRESS'], to: 'FAILED', errorMessage: 'boom' });
    // Terminal: every move out of FAILED is illegal.
    for (const to of ['QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILED'] as const) {
      await expect(moveDeployment(db, { deploymentId: d.id, from: ['FAILED'], to, appendLogs: 'x' })).rejects.toThrow(IllegalTransitionError);
    }
    // Legal in itself but not from where the deployment is: refused, and the environment's move with it too.
    expect(
      await moveDeployment(db, {
        deploymentId: d.id,
        from: ['IN_PROGRESS'],
        to: 'SUCCESS',
        appendLogs: 'x',
        environment: { id: env.id, from: ['READY'], to: 'UPDATING' },
      }),
    ).toEqual({ deployment: false, environment: false });
    const after = await db.deployment.findUniqueOrThrow({ where: { id: d.id } });
    expect(after.status).toBe('FAILED');
    expect(after.errorMessage).toBe('boom');
    expect(after.logs).toBeNull();
    expect((await db.environment.findUniqueOrThrow({ where: { id: env.id } })).status).toBe('READY');
  });

  it('refuses a deployment for a missing environment', async () => {
    await expect(createDeployment(db, { environmentId: 999_999, commitSha: sha('5') })).rejects.toThrow(NotFoundError);
  });
});

describe('pull request lock keys', () => {
  it('are the same whether taken from a key (webhooks) or from an environment row (provisioning steps)', async () => {
    const withId = await newEnvironment({ repo: 'Lock/Keyed' });
    const legacy = await createEnvironment(db, {
      repositoryId: null,
      repositoryFullName: 'Lock/Legacy',
      prNumber: 3,
      branchName: 'b',
      commitSha: sha('9'),
      installationId: 1,
    });
    for (const env of [withId, legacy]) {
      const [row] = await db.$queryRaw<Array<{ key: string }>>`SELECT ${LOCK_KEY_SQL} AS key FROM environments e WHERE e.id = ${env.id}`;
      expect(row!.key).toBe(pullRequestLockKey({ repositoryId: env.repositoryId, repositoryFullName: env.repositoryFullName, prNumber: env.prNumber }));
    }
    expect(pullRequestLockKey({ repositoryId: null, repositoryFullName: 'Lock/Legacy', prNumber: 3 })).toBe('lock/legacy#3');
  });
});

describe('environment actions', () => {
  const write = (env: Awaited<ReturnType<typeof newEnvironment>>, requestId: string, over: Partial<EnvironmentActionWrite> = {}): EnvironmentActionWrite => ({
    requestId,
    action: 'destroy',
    requestedBy: { kind: 'operator', login: 'admin' },
    requestedAt: new Date('2026-03-01T12:00:00Z'),
    environment: env,
    to: 'DESTROYING',
    supersedeReason: 'destroyed from the dashboard',
    deployment: null,
    logLine: '2026-03-01T12:00:01.000Z destroy asked for by @admin (operator) from the dashboard\n',
    note: 'Destroyed from the dashboard.',
    ...over,
  });

  it('writes the action with who asked, once per request id', async () => {
    const env = await newEnvironment({ status: 'READY' });
    const running = await createDeployment(db, { environmentId: env.id, commitSha: sha('c') });
    const requestId = '6f1c2f1e-9d0a-4f57-8a43-0d1b9c1e2a10';
    const written = await db.$transaction((tx) => writeEnvironmentAction(tx, write(env, requestId)));
    expect(written).toMatchObject({ environment: { id: env.id, status: 'DESTROYING' }, latest: { id: running.id, status: 'FAILED' } });
    const after = await db.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(after).toMatchObject({ status: 'DESTROYING', lastAction: 'destroy', lastActionBy: 'admin', lastActionKind: 'operator', lastActionAt: new Date('2026-03-01T12:00:00Z') });
    expect(after.destroyRequestedAt).toBeInstanceOf(Date);
    // The line saying who asked comes before the supersede's own.
    expect((await db.deployment.findUniqueOrThrow({ where: { id: running.id } })).logs).toBe(
      '2026-03-01T12:00:01.000Z destroy asked for by @admin (operator) from the dashboard\ndestroyed from the dashboard\n',
    );
    expect(await db.pullRequestState.findFirstOrThrow({ where: { prNumber: env.prNumber } })).toMatchObject({ note: 'Destroyed from the dashboard.' });
    expect(await environmentActionApplied(db, requestId)).toBe(true);

    // The same request again: nothing written.
    const again = await db.$transaction((tx) => writeEnvironmentAction(tx, write({ ...env, status: 'DESTROYING' }, requestId, { to: 'DESTROYING' })));
    expect(again).toBeNull();
    expect((await db.deployment.findUniqueOrThrow({ where: { id: running.id } })).logs!.match(/asked for/g)).toHaveLength(1);
  });

  it('queues a redeploy with its log line, and refuses a move the state machine forbids, writing nothing', async () => {
    const env = await newEnvironment({ status: 'FAILED' });
    const written = await db.$transaction((tx) =>
      writeEnvironmentAction(
        tx,
        write(env, '0c7b6b0e-5b8e-4d8c-9a55-6a3d0e2f4b21', {
          action: 'redeploy',
          to: 'PENDING',
          supersedeReason: 'superseded by a redeploy',
          deployment: { commitSha: env.commitSha, commitMessage: 'redeploy asked for by @admin' },
          logLine: 'redeploy asked for\n',
        }),
      ),
    );
    expect(written).toMatchObject({ environment: { status: 'PENDING' }, latest: { status: 'QUEUED' } });
    expect(await getLatestDeployment(db, env.id)).toMatchObject({ commitSha: env.commitSha, commitMessage: 'redeploy asked for by @admin', logs: 'redeploy asked for\n' });

    const destroyed = await newEnvironment({ status: 'DESTROYED' });
    const requestId = '3e0d5a9c-2b1f-4c6e-8d7a-1f2e3d4c5b6a';
    await expect(db.$transaction((tx) => writeEnvironmentAction(tx, write(destroyed, requestId, { to: 'READY' })))).rejects.toThrow(IllegalTransitionError);
    expect(await environmentActionApplied(db, requestId)).toBe(false);
  });
});
