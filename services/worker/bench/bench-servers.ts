import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startPostgres, startRedis } from '@ephemera/testkit';

/**
 * Runs a benchmark with a PostgreSQL and a Redis of its own (unless DATABASE_URL / REDIS_URL name some), removed
 * afterwards, and exits with its outcome.
 */
export function runBench(name: string, main: () => Promise<void>): void {
  const run = async () => {
    // Under the system temp folder: when we are root, PostgreSQL runs as the postgres user.
    const scratch = await mkdtemp(path.join(tmpdir(), `ephemera-${name}-`));
    await chmod(scratch, 0o755);
    const pgServer = process.env.DATABASE_URL ? undefined : await startPostgres({ dir: path.join(scratch, 'pg'), port: await freePort(), database: 'bench' });
    const redisServer = process.env.REDIS_URL ? undefined : await startRedis({ dir: path.join(scratch, 'redis'), port: await freePort(), durable: false });
    process.env.DATABASE_URL ??= pgServer!.url;
    process.env.REDIS_URL ??= redisServer!.url;
    try {
      await main();
    } finally {
      await pgServer?.stop();
      await redisServer?.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  };
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
