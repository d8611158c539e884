import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { Migrator, defaultPrismaDir } from '../src/migrate/index.js';
import { createScratchDatabase } from '../src/testing.js';

/** Every column of the public schema with its type and nullability, and every index: what a migration changes. */
async function schemaShape(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const columns = await c.query<{ line: string }>(
      "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS line FROM information_schema.columns WHERE table_schema = 'public'",
    );
    const indexes = await c.query<{ line: string }>("SELECT 'index ' || indexname || ' on ' || tablename AS line FROM pg_indexes WHERE schemaname = 'public'");
    return [...columns.rows, ...indexes.rows].map((r) => r.line).sort();
  } finally {
    await c.end();
  }
}

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    return rows.map((r) => r.tablename);
  } finally {
    await c.end();
  }
}

describe(Migrator.name, () => {
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let sut: Migrator;

  beforeAll(async () => {
    db = await createScratchDatabase();
    sut = new Migrator({ databaseUrl: db.url, prismaDir: defaultPrismaDir() });
  });
  afterAll(() => db.drop());

  it('applies every migration to an empty database and records them as the Prisma CLI does', async () => {
    const before = await sut.status();
    expect(before.applied).toHaveLength(0);
    expect(before.pending.length).toBeGreaterThan(0);

    const applied = await sut.migrate();
    expect(applied).toEqual(before.pending);
    expect(await tables(db.url)).toEqual(
      [
        '_prisma_migrations',
        'deployments',
        'environments',
        'github_sync_state',
        'processed_deliveries',
        'pull_list_etags',
        'pull_request_states',
        'redelivery_requests',
        'users',
      ].sort(),
    );
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations',
    );
    await c.end();
    expect(rows).toHaveLength(applied.length);
    for (const row of rows) {
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
    }
    expect(await sut.migrate()).toEqual([]);
    expect((await sut.status()).pending).toEqual([]);
  });

  it('rolls back the last migration with its down.sql, then re-applies it', async () => {
    const { applied } = await sut.status();
    const last = applied.at(-1)!.name;
    const full = await schemaShape(db.url);
    expect(await sut.rollback()).toBe(last);
    const after = await sut.status();
    expect(after.pending).toEqual([last]);
    expect(after.rolledBack).toEqual([last]);
    // The down.sql undid something, whatever the last migration is…
    const rolledBack = await schemaShape(db.url);
    expect(rolledBack).not.toEqual(full);

    expect(await sut.migrate()).toEqual([last]);
    const again = await sut.status();
    expect(again.pending).toEqual([]);
    expect(again.applied.map((m) => m.name)).toContain(last);
    // …and applying it again gives back exactly the schema it had.
    expect(await schemaShape(db.url)).toEqual(full);
    expect(await tables(db.url)).toContain('environments');
  });

  it('finds no drift between schema.prisma and the committed migrations', async () => {
    expect(await sut.drift()).toBe('');
  });

  describe('with a copy of prisma/ whose schema gained a column', () => {
    let dir: string;
    let copy: Migrator;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'ephemera-prisma-'));
      await cp(defaultPrismaDir(), dir, { recursive: true });
      const schemaPath = path.join(dir, 'schema.prisma');
      const schema = await readFile(schemaPath, 'utf8');
      await writeFile(
        schemaPath,
        schema.replace('  isActive     Boolean', '  timezone     String?\n  isActive     Boolean'),
      );
      copy = new Migrator({ databaseUrl: db.url, prismaDir: dir });
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('reports the drift as the SQL that is missing', async () => {
      expect(await copy.drift()).toMatch(/ALTER TABLE "users" ADD COLUMN\s+"timezone" TEXT/);
    });

    it('creates a migration and its down.sql, applies it, rolls it back', async () => {
      const created = await copy.create('add user timezone', new Date('2099-01-02T03:04:05Z'));
      expect(created?.name).toBe('20990102030405_add_user_timezone');
      expect(created?.downSql).toMatch(/ALTER TABLE "(public"\.")?users" DROP COLUMN "timezone"/);
      expect(await copy.drift()).toBe('');

      expect(await copy.migrate()).toEqual([created!.name]);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const column = "SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'timezone'";
      expect((await c.query(column)).rowCount).toBe(1);
      expect(await copy.rollback()).toBe(created!.name);
      expect((await c.query(column)).rowCount).toBe(0);
      await c.end();
    });

    it('writes nothing when there is nothing to migrate', async () => {
      expect(await copy.create('empty')).toBeNull();
    });
  });

  it('resets: drops everything and re-applies', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("INSERT INTO users (github_id, github_login) VALUES (1, 'someone')");
    await c.query('CREATE TABLE stray (id int)');
    await c.end();
    const applied = await sut.reset();
    expect(applied.length).toBeGreaterThan(0);
    expect(await tables(db.url)).not.toContain('stray');
    const c2 = new pg.Client({ connectionString: db.url });
    await c2.connect();
    expect((await c2.query('SELECT * FROM users')).rowCount).toBe(0);
    await c2.end();
  });

  it('leaves no shadow database behind', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'");
    await c.end();
    expect(rowCount).toBe(0);
  });
});
