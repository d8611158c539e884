import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { deploymentResponseSchema, environmentResponseSchema } from '@ephemera/schema';
import { apiJsonFields, environmentApiJson, listDeployments } from '../src/index.js';
import { Migrator, defaultPrismaDir } from '../src/migrate/index.js';
import { RENDER_FUNCTION, renderFunctionBody } from '../src/migrate/sync-api-json.js';
import { createScratchDatabase } from '../src/testing.js';

type Scratch = Awaited<ReturnType<typeof createScratchDatabase>>;

const environmentKeys = Object.keys(environmentResponseSchema.shape);
const deploymentKeys = Object.keys(deploymentResponseSchema.shape);
const nullKeys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] === null);

/** A session in a time zone other than UTC, so the trigger's switch to UTC is exercised by every write. */
async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: '-c TimeZone=America/St_Johns' });
  await c.connect();
  return c;
}

let prCounter = 1;

/** An environment with every column the API shows set (`full`), or only the required ones. */
async function insertEnvironment(c: pg.Client, full: boolean): Promise<{ id: number; json: Record<string, unknown> }> {
  const pr = prCounter++;
  const { rows: users } = await c.query<{ id: number }>(
    `INSERT INTO users (github_id, github_login) VALUES ($1, $2) RETURNING id`,
    [8_000_000 + pr, `owner-${pr}`],
  );
  const { rows } = await c.query<{ id: number; api_json: string }>(
    full
      ? `INSERT INTO environments (repository_id, repository_full_name, repository_name, pr_number, pr_title, branch_name,
           commit_sha, namespace, environment_url, status, installation_id, owner_id, error_message, last_deployed_at,
           destroyed_at, last_action, last_action_by, last_action_kind, last_action_at)
         VALUES (9007199254740000, 'acme/web', 'web', $1, 'A title', 'feature', repeat('a', 40), $3,
           'https://web.example.com', 'FAILED', 3000000000, $2, 'image pull failed', '2026-03-01T12:00:00.5Z',
           '2026-03-02T00:00:00Z', 'destroy', 'octocat', 'github', '2026-03-01T23:59:00Z')
         RETURNING id, api_json`
      : `INSERT INTO environments (repository_full_name, repository_name, pr_number, branch_name, commit_sha, namespace,
           installation_id)
         VALUES ('acme/web', 'web', $1, 'feature', repeat('b', 40), $2, 1)
         RETURNING id, api_json`,
    full ? [pr, users[0]!.id, `pr-${pr}-web`] : [pr, `pr-${pr}-web`],
  );
  return { id: rows[0]!.id, json: JSON.parse(rows[0]!.api_json) as Record<string, unknown> };
}

/** prisma/ copied with one more migration (and its down.sql), as a migration in a change under review would be. */
async function prismaDirWith(name: string, up: string, down: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ephemera-prisma-'));
  await cp(defaultPrismaDir(), dir, { recursive: true });
  const migration = path.join(dir, 'migrations', name);
  await mkdir(migration);
  await writeFile(path.join(migration, 'migration.sql'), up);
  await writeFile(path.join(migration, 'down.sql'), down);
  return dir;
}

describe("environments' API JSON", () => {
  let scratch: Scratch;
  let c: pg.Client;
  let sut: Migrator;
  const notices: string[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    sut = new Migrator({ databaseUrl: scratch.url, prismaDir: defaultPrismaDir(), notice: (l) => notices.push(l) });
    await sut.migrate();
    c = await connect(scratch.url);
  });
  afterAll(async () => {
    await c.end();
    await scratch.drop();
  });

  it('has exactly the fields of environmentResponseSchema, in its order, each of its type', async () => {
    const { json } = await insertEnvironment(c, true);
    expect(Object.keys(json)).toEqual(environmentKeys);
    // Every field has a value here, so the check below holds each one's type, not only its null; a new field
    // needs its column set in this row.
    expect(nullKeys(json)).toEqual([]);
    expect(() => environmentResponseSchema.strict().parse(json)).not.toThrow();
    expect(json).toMatchObject({ repository_id: 9007199254740000, installation_id: 3_000_000_000, last_deployed_at: '2026-03-01T12:00:00.5+00:00' });
    expect(json).toMatchObject({ last_action: 'destroy', last_action_by: 'octocat', last_action_kind: 'github', last_action_at: '2026-03-01T23:59:00+00:00' });

    const sparse = (await insertEnvironment(c, false)).json;
    expect(Object.keys(sparse)).toEqual(environmentKeys);
    expect(() => environmentResponseSchema.strict().parse(sparse)).not.toThrow();
    expect(sparse).toMatchObject({ repository_id: null, owner: null });
  });

  it('is rendered by the function derived from the schema, which a second migrate leaves alone', async () => {
    const { id } = await insertEnvironment(c, true);
    const src = async () =>
      (await c.query<{ src: string }>('SELECT prosrc AS src FROM pg_proc WHERE proname = $1', [RENDER_FUNCTION])).rows;
    expect(await src()).toEqual([{ src: renderFunctionBody() }]);
    const version = async () => (await c.query<{ v: string }>('SELECT xmin::text AS v FROM environments WHERE id = $1', [id])).rows[0]!.v;
    const before = await version();
    expect(await sut.migrate()).toEqual([]);
    // Unchanged function text: the rows are not rewritten.
    expect(await version()).toBe(before);
    expect(await src()).toEqual([{ src: renderFunctionBody() }]);
  });

  it('rejects an expression for a key the schema does not have, at compile time', () => {
    // @ts-expect-error -- `ownr` is not a key of environmentResponseSchema
    apiJsonFields('environments', 'environmentResponseSchema', environmentResponseSchema.shape, { ownr: () => 'NULL' });
    expect(environmentApiJson.fields.map((f) => f.key)).toEqual(environmentKeys);
  });

  it("lists deployments with deploymentResponseSchema's fields, in its order, logs only when asked", async () => {
    const { id: environmentId } = await insertEnvironment(c, true);
    await c.query(
      `INSERT INTO deployments (environment_id, commit_sha, commit_message, status, started_at, completed_at, error_message, logs, gate_waiting_for, waiting_since)
       VALUES ($1, repeat('c', 40), 'one', 'WAITING', now(), now(), 'boom', 'line 1\n', '\`build\`', now())`,
      [environmentId],
    );
    const utc = new pg.Client({ connectionString: scratch.url, options: '-c TimeZone=UTC' });
    await utc.connect();
    try {
      const [plain] = await listDeployments(utc, environmentId, { limit: 10, includeLogs: false });
      const [withLogs] = await listDeployments(utc, environmentId, { limit: 10, includeLogs: true });
      const a = JSON.parse(plain!.json) as Record<string, unknown>;
      const b = JSON.parse(withLogs!.json) as Record<string, unknown>;
      expect(Object.keys(a)).toEqual(deploymentKeys.filter((k) => k !== 'logs'));
      expect(Object.keys(b)).toEqual(deploymentKeys);
      expect(nullKeys(b)).toEqual([]);
      expect(() => deploymentResponseSchema.strict().parse(a)).not.toThrow();
      expect(() => deploymentResponseSchema.strict().parse(b)).not.toThrow();
      expect(b.logs).toBe('line 1\n');
    } finally {
      await utc.end();
    }
  });

  it('keeps environments writable when the newest migration is rolled back, and whole again when migrated', async () => {
    const { id } = await insertEnvironment(c, true);
    notices.length = 0;
    const last = await sut.rollback();
    expect(last).not.toBeNull();
    // A field whose column the rolled-back schema lacks is left out, and said so; the rest stay.
    const omitted = notices.flatMap((n) => /leaves out (.+?) \(/.exec(n)?.[1]?.split(', ') ?? []);
    const expected = environmentKeys.filter((k) => !omitted.includes(k));
    const written = await insertEnvironment(c, false);
    expect(Object.keys(written.json)).toEqual(expected);
    const { rows } = await c.query<{ api_json: string }>('SELECT api_json FROM environments WHERE id = $1', [id]);
    expect(Object.keys(JSON.parse(rows[0]!.api_json) as object)).toEqual(expected);

    expect(await sut.migrate()).toEqual([last]);
    const again = await c.query<{ api_json: string }>('SELECT api_json FROM environments WHERE id IN ($1, $2)', [id, written.id]);
    for (const row of again.rows) {
      const json = JSON.parse(row.api_json) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual(environmentKeys);
      expect(() => environmentResponseSchema.strict().parse(json)).not.toThrow();
    }
  });
});

describe('a migration that takes away what the API JSON uses', () => {
  it.each([
    [
      'renames a column',
      'ALTER TABLE "environments" RENAME COLUMN "pr_title" TO "title";',
      'ALTER TABLE "environments" RENAME COLUMN "title" TO "pr_title";',
      /environmentResponseSchema field "pr_title" reads column environments\.pr_title, which does not exist/,
    ],
    [
      'drops a deployment column',
      'ALTER TABLE "deployments" DROP COLUMN "commit_message";',
      'ALTER TABLE "deployments" ADD COLUMN "commit_message" TEXT;',
      /deploymentResponseSchema field "commit_message" reads column deployments\.commit_message, which does not exist/,
    ],
    [
      "renames the column the owner's login is embedded from",
      'ALTER TABLE "users" RENAME COLUMN "github_login" TO "login";',
      'ALTER TABLE "users" RENAME COLUMN "login" TO "github_login";',
      /environmentResponseSchema field "owner" reads .*, which fails: column u\.github_login does not exist/,
    ],
    [
      'retypes a column',
      'ALTER TABLE "environments" ALTER COLUMN "pr_number" TYPE TEXT;',
      'ALTER TABLE "environments" ALTER COLUMN "pr_number" TYPE INTEGER USING "pr_number"::integer;',
      /environmentResponseSchema field "pr_number" is a number, but column environments\.pr_number is text/,
    ],
    [
      'drops the time zone of a timestamp',
      'ALTER TABLE "environments" ALTER COLUMN "created_at" TYPE TIMESTAMP(6);',
      'ALTER TABLE "environments" ALTER COLUMN "created_at" TYPE TIMESTAMPTZ(6);',
      /field "created_at" is a timestamp with its offset \(timestamptz\), but column environments\.created_at is timestamp without time zone/,
    ],
    [
      'lets a column the schema says is never null hold NULL',
      'ALTER TABLE "environments" ALTER COLUMN "branch_name" DROP NOT NULL;',
      'ALTER TABLE "environments" ALTER COLUMN "branch_name" SET NOT NULL;',
      /environmentResponseSchema field "branch_name" is never null, but column environments\.branch_name allows NULL/,
    ],
  ])('fails migrate() when it %s, naming the field and the column', async (_what, up, down, message) => {
    const scratch = await createScratchDatabase();
    const dir = await prismaDirWith('29991231000000_under_review', up, down);
    try {
      const sut = new Migrator({ databaseUrl: scratch.url, prismaDir: dir });
      await expect(sut.migrate()).rejects.toThrow(message);
      // Taking the migration back makes the database whole again.
      expect(await sut.rollback()).toBe('29991231000000_under_review');
      await rm(path.join(dir, 'migrations', '29991231000000_under_review'), { recursive: true });
      await expect(sut.migrate()).resolves.toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await scratch.drop();
    }
  });
});
