import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { poolConfigFromUrl } from './database-url.js';

/**
 * A fresh, empty database on the server DATABASE_URL names, for one test file; `drop()` removes it. Test files
 * run in parallel, each in its own database, so none sees another's rows.
 */
export async function createScratchDatabase(
  serverUrl = process.env.DATABASE_URL,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (!serverUrl) throw new Error('DATABASE_URL is not set (npm test starts a PostgreSQL server and sets it)');
  const name = `scratch_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ ...poolConfigFromUrl(serverUrl), database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ ...poolConfigFromUrl(serverUrl), database: 'postgres' });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
