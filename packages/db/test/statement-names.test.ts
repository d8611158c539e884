import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPrismaClient, type PrismaClient } from '../src/index.js';
import { createStatementNamer } from '../src/statement-names.js';
import { createScratchDatabase } from '../src/testing.js';

describe('createStatementNamer', () => {
  it('gives one text one name, and different texts different names', () => {
    const name = createStatementNamer(10);
    const a = name('SELECT 1');
    expect(a).toMatch(/^e_[A-Za-z0-9_-]+$/);
    expect(name('SELECT 1')).toBe(a);
    expect(name('SELECT 2')).not.toBe(a);
    // The same text from another process gets the same name: names are derived, not counted.
    expect(createStatementNamer(10)('SELECT 1')).toBe(a);
  });

  it('names at most `limit` texts; the ones it named keep their names and later texts run unnamed', () => {
    const name = createStatementNamer(2);
    const first = name('SELECT 1');
    const second = name('SELECT 2');
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(name('SELECT 3')).toBeUndefined();
    expect(name('SELECT 1')).toBe(first);
    expect(name('SELECT 2')).toBe(second);
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
});
