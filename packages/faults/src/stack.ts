import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { freePort, startPostgres, startRedis, type RunningServer } from '@ephemera/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SECRET = 'fault-suite-secret';
/** The bearer token the query service accepts (API_TOKENS), sent with the suite's API reads. */
export const QUERY_API_TOKEN = 'fault-suite-query-token';
/**
 * ingest's INGEST_MAX_INFLIGHT_BYTES: small, so that the hostile-input scenario's concurrent large bodies reach
 * it, and still far above what the other scenarios hold at once (20 concurrent deliveries of about 24 KB).
 */
export const INGEST_INFLIGHT_LIMIT = 3 * 1024 * 1024;
/** ingest's ALLOWED_ACCOUNTS: the owner of every generated pull request (GitHub's example repository). */
export const ALLOWED_ACCOUNT = 'Codertocat';

export interface Service {
  name: string;
  port: number;
  process: ChildProcess;
}

/**
 * PostgreSQL, Redis (AOF on) and the three services as separate processes, two workers among them: the
 * stack an operator runs, which the scenarios then break.
 */
export async function startStack() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-faults-'));
  await chmod(scratch, 0o755);
  const pgPort = await freePort();
  const redisPort = await freePort();
  let postgres: RunningServer = await startPostgres({ dir: path.join(scratch, 'pg'), port: pgPort, database: 'ephemera' });
  let redis: RunningServer = await startRedis({ dir: path.join(scratch, 'redis'), port: redisPort, durable: true });
  await new Migrator({ databaseUrl: postgres.url, prismaDir: defaultPrismaDir() }).migrate();
  const db = new pg.Pool({ connectionString: postgres.url, max: 4 });
  db.on('error', () => undefined);
  const services: Service[] = [];
  const env = {
    PATH: process.env.PATH,
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: 'ephemera',
    GITHUB_WEBHOOK_SECRET: SECRET,
    WORKER_LOCK_MS: '3000',
    PROVISIONER_DELAY_MS: '50',
    LOG_LEVEL: 'error',
    NODE_ENV: 'development',
  };

  /** What each service is given besides the shared settings. */
  const serviceEnv = {
    ingest: { INGEST_MAX_INFLIGHT_BYTES: String(INGEST_INFLIGHT_LIMIT), ALLOWED_ACCOUNTS: ALLOWED_ACCOUNT },
    // The query service refuses to start without API tokens (or API_AUTH=none); the suite reads with this one.
    query: { API_TOKENS: QUERY_API_TOKEN },
    worker: {},
  };

  async function startService(name: 'ingest' | 'worker' | 'query', label: string = name): Promise<Service> {
    const port = await freePort();
    const portVar = { ingest: 'INGEST_PORT', worker: 'WORKER_PORT', query: 'QUERY_PORT' }[name];
    const child = spawn(process.execPath, [path.join(ROOT, 'services', name, 'dist', 'main.js')], {
      env: { ...env, ...serviceEnv[name], [portVar]: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const service = { name: label, port, process: child };
    const deadline = Date.now() + 30_000;
    while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null) throw new Error(`${label} exited during start-up`);
      if (Date.now() > deadline) throw new Error(`${label} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
    services.push(service);
    return service;
  }

  return {
    db,
    redisUrl: redis.url,
    services,
    startService,
    async kill(service: Service, signal: NodeJS.Signals = 'SIGKILL') {
      const exited = new Promise((r) => service.process.once('exit', r));
      service.process.kill(signal);
      await exited;
      services.splice(services.indexOf(service), 1);
    },
    async restartRedis(downMs: number) {
      await redis.stop();
      await new Promise((r) => setTimeout(r, downMs));
      redis = await startRedis({ dir: path.join(scratch, 'redis'), port: redisPort, durable: true });
    },
    async restartPostgres(downMs: number) {
      await postgres.stop();
      await new Promise((r) => setTimeout(r, downMs));
      postgres = await startPostgres({ dir: path.join(scratch, 'pg'), port: pgPort, database: 'ephemera' });
    },
    async stop() {
      for (const s of [...services]) {
        s.process.kill('SIGKILL');
      }
      await db.end().catch(() => undefined);
      await redis.stop();
      await postgres.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Resident memory of a service's process in MB, from /proc (the suite runs where the services run: Linux). */
export async function residentMb(service: Service): Promise<number> {
  const status = await readFile(`/proc/${service.process.pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
