import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createPrismaClient, type PrismaClient } from '../src/index.js';
import { MAX_STATEMENT_RESETS, StatementNamer, isStalePreparedStatement } from '../src/statement-names.js';
import { createScratchDatabase } from '../src/testing.js';

describe('StatementNamer', () => {
  it('gives one text one name, and different texts different names', () => {
    const namer = new StatementNamer(10);
    const a = namer.name('SELECT 1');
    expect(a).toMatch(/^e0_[A-Za-z0-9_-]+$/);
    expect(namer.name('SELECT 1')).toBe(a);
    expect(namer.name('SELECT 2')).not.toBe(a);
    // The same text from another process gets the same name: names are derived, not counted.
    expect(new StatementNamer(10).name('SELECT 1')).toBe(a);
  });

  it('names at most `limit` texts; the ones it named keep their names and later texts run unnamed', () => {
    const namer = new StatementNamer(2);
    const first = namer.name('SELECT 1');
    const second = namer.name('SELECT 2');
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(namer.name('SELECT 3')).toBeUndefined();
    expect(namer.name('SELECT 1')).toBe(first);
    expect(namer.name('SELECT 2')).toBe(second);
  });

  it('forget gives every text a new name, and after too many resets names nothing', () => {
    const namer = new StatementNamer(2);
    const seen = new Set([namer.name('SELECT 1')]);
    namer.name('SELECT 2');
    for (let i = 1; i <= MAX_STATEMENT_RESETS; i++) {
      expect(namer.forget()).toBe(true);
      const renamed = namer.name('SELECT 1');
      expect(seen.has(renamed)).toBe(false);
      seen.add(renamed);
      // The bound counts again from nothing.
      expect(namer.name('SELECT 3')).toBeDefined();
    }
    expect(namer.forget()).toBe(false);
    expect(namer.name('SELECT 1')).toBeUndefined();
  });

  it('knows the server errors that mean a prepared statement is unusable, and no others', () => {
    expect(isStalePreparedStatement({ code: '26000', message: 'prepared statement "e0_x" does not exist' })).toBe(true);
    expect(isStalePreparedStatement({ code: '0A000', message: 'cached plan must not change result type' })).toBe(true);
    expect(isStalePreparedStatement({ code: '0A000', message: 'FOR UPDATE is not allowed with aggregate functions' })).toBe(false);
    expect(isStalePreparedStatement({ code: '23505', message: 'duplicate key value violates unique constraint' })).toBe(false);
    expect(isStalePreparedStatement(new Error('connection terminated'))).toBe(false);
    expect(isStalePreparedStatement(null)).toBe(false);
  });
});

describe('createPrismaClient prepared statements', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(async () => {
    await scratch.drop();
  });

  /** Runs a statement twice and lists, on the same connection, what the server holds prepared. */
  async function preparedOn(db: PrismaClient): Promise<string[]> {
    return db.$transaction(async (tx) => {
      for (let i = 0; i < 2; i++) await tx.$queryRawUnsafe('SELECT $1::int + 41 AS answer', 1);
      const rows = await tx.$queryRawUnsafe<{ statement: string }[]>('SELECT statement FROM pg_prepared_statements');
      return rows.map((r) => r.statement);
    });
  }

  it('prepares each statement once per connection by default', async () => {
    const db = createPrismaClient({ databaseUrl: scratch.url, poolSize: 1 });
    try {
      const prepared = await preparedOn(db);
      expect(prepared.filter((s) => s === 'SELECT $1::int + 41 AS answer')).toHaveLength(1);
    } finally {
      await db.$disconnect();
    }
  });

  it('prepares nothing with preparedStatements: 0', async () => {
    const db = createPrismaClient({ databaseUrl: scratch.url, poolSize: 1, preparedStatements: 0 });
    try {
      expect(await preparedOn(db)).toEqual([]);
    } finally {
      await db.$disconnect();
    }
  });

  it('after a migration changes the type of a column a prepared statement returns, the next try prepares it again', async () => {
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    const resets: Array<{ preparing: boolean; error: string }> = [];
    const db = createPrismaClient({ databaseUrl: scratch.url, poolSize: 1, onStatementsReset: (e) => resets.push(e) });
    try {
      await admin.query('CREATE TABLE retyped (n int NOT NULL); INSERT INTO retyped VALUES (7)');
      const read = () => db.$queryRawUnsafe<Array<{ n: unknown }>>('SELECT n FROM retyped');
      expect(await read()).toEqual([{ n: 7 }]);
      expect(await read()).toEqual([{ n: 7 }]);
      await admin.query('ALTER TABLE retyped ALTER COLUMN n TYPE text');
      // The connection's prepared statement now describes a result PostgreSQL will not give: that try fails...
      await expect(read()).rejects.toThrow(/cached plan must not change result type/);
      expect(resets).toEqual([{ preparing: true, error: expect.stringMatching(/cached plan/) }]);
      // ...and the next one, as a job's retry would, is prepared anew on the same connection.
      expect(await read()).toEqual([{ n: '7' }]);
    } finally {
      await db.$disconnect();
      await admin.end();
    }
  });
});
