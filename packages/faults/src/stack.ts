import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { freePort, startFakeGithub, startPostgres, startRedis, type RunningServer } from '@ephemera/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SECRET = 'fault-suite-secret';
/** The bearer token the query service accepts (API_TOKENS), sent with the suite's API reads. */
export const QUERY_API_TOKEN = 'fault-suite-query-token';
/**
 * ingest's INGEST_MAX_INFLIGHT_BYTES: small, so that the hostile-input scenario's concurrent large bodies reach
 * it, and still far above what the other scenarios hold at once (20 concurrent deliveries of about 24 KB).
 */
export const INGEST_INFLIGHT_LIMIT = 3 * 1024 * 1024;
/** ALLOWED_ACCOUNTS of ingest and the workers: the owner of every generated pull request (GitHub's example repository). */
export const ALLOWED_ACCOUNT = 'Codertocat';
/** The workers' GITHUB_APP_ID (the fake GitHub's App). */
const GITHUB_APP_ID = 42;
/**
 * The workers' REDELIVERY_INTERVAL_MS and RESYNC_INTERVAL_MS. Both passes are BullMQ job schedulers shared by every
 * worker (the last worker to start sets the interval), so every worker gets the same short ones for the whole run.
 * In the scenarios that send nothing through the fake GitHub they find nothing to do: its delivery log is empty
 * and it lists no installation until `closed-dropped` lists one of its own repository.
 */
const REDELIVERY_INTERVAL_MS = 3_000;
export const RESYNC_INTERVAL_MS = 3_000;

export interface Service {
  name: string;
  port: number;
  process: ChildProcess;
}

/** Where Redis's append-only file ended at some moment: its newest incremental file and that file's size. */
interface AofMark {
  file: string;
  size: number;
}

/**
 * PostgreSQL, Redis (AOF on) and the three services as separate processes, two workers among them, and a fake
 * GitHub the workers hold App credentials for (feedback, redelivery and resync go to it): the stack an operator
 * runs, which the scenarios then break.
 */
export async function startStack() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-faults-'));
  await chmod(scratch, 0o755);
  const pgPort = await freePort();
  const redisPort = await freePort();
  const redisDir = path.join(scratch, 'redis');
  let postgres: RunningServer = await startPostgres({ dir: path.join(scratch, 'pg'), port: pgPort, database: 'ephemera' });
  let redis: RunningServer = await startRedis({ dir: redisDir, port: redisPort, durable: true });
  const github = await startFakeGithub();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
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
    // Every service signs the jobs it queues with it, and the workers refuse any other (`npm test` gives one).
    QUEUE_SIGNING_KEY: process.env.QUEUE_SIGNING_KEY ?? randomBytes(32).toString('hex'),
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
    worker: {
      ALLOWED_ACCOUNTS: ALLOWED_ACCOUNT,
      GITHUB_APP_ID: String(GITHUB_APP_ID),
      GITHUB_APP_PRIVATE_KEY: pem,
      GITHUB_API_URL: github.url,
      REDELIVERY_INTERVAL_MS: String(REDELIVERY_INTERVAL_MS),
      RESYNC_INTERVAL_MS: String(RESYNC_INTERVAL_MS),
    },
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

  /** The incremental AOF file Redis appends to now (Redis 7's multi-part AOF: the manifest's last `type i` file). */
  async function aofMark(): Promise<AofMark> {
    const manifest = await readFile(path.join(redisDir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
    const file = [...manifest.matchAll(/^file (\S+) seq \d+ type i$/gm)].at(-1)?.[1];
    if (!file) throw new Error(`no incremental AOF file in the manifest: ${manifest}`);
    return { file, size: (await stat(path.join(redisDir, 'appendonlydir', file))).size };
  }

  return {
    db,
    redisUrl: redis.url,
    /** The fake GitHub the workers talk to (and that can send deliveries to ingest). */
    github,
    services,
    startService,
    /**
     * Where the AOF ends now, for {@link killRedis} to cut it back to. Automatic AOF rewrites are turned off until
     * Redis next starts, so the file marked is still the one appended to when Redis is killed.
     */
    async aofMark(): Promise<AofMark> {
      await redisCommand(redisPort, 'CONFIG', 'SET', 'auto-aof-rewrite-percentage', '0');
      const info = await redisCommand(redisPort, 'INFO', 'persistence');
      if (!/aof_rewrite_in_progress:0/.test(info)) throw new Error('an AOF rewrite is in progress');
      return aofMark();
    },
    /**
     * SIGKILLs Redis (no shutdown, no final write), and with `loseSince` cuts its AOF back to that mark: what an
     * operating system crash leaves of `appendfsync everysec` when the last writes had not been fsynced. A SIGKILL
     * alone loses nothing Redis acknowledged, since Redis hands every write to the kernel before it answers; the
     * cut is how the scenario loses acknowledged writes for certain. Returns the bytes of AOF cut.
     */
    async killRedis(options: { loseSince?: AofMark } = {}): Promise<number> {
      const killed = redis.process;
      if (killed.exitCode === null && killed.signalCode === null) {
        const exited = new Promise((r) => killed.once('exit', r));
        killed.kill('SIGKILL');
        await exited;
      }
      if (!options.loseSince) return 0;
      const now = await aofMark();
      if (now.file !== options.loseSince.file) throw new Error(`the AOF moved on from ${options.loseSince.file} to ${now.file}`);
      await truncate(path.join(redisDir, 'appendonlydir', now.file), options.loseSince.size);
      return now.size - options.loseSince.size;
    },
    /** Starts Redis again after {@link killRedis}, from its (possibly cut) append-only file. */
    async bringRedisBack() {
      redis = await startRedis({ dir: redisDir, port: redisPort, durable: true });
    },
    async kill(service: Service, signal: NodeJS.Signals = 'SIGKILL') {
      const exited = new Promise((r) => service.process.once('exit', r));
      service.process.kill(signal);
      await exited;
      services.splice(services.indexOf(service), 1);
    },
    async restartRedis(downMs: number) {
      await redis.stop();
      await new Promise((r) => setTimeout(r, downMs));
      redis = await startRedis({ dir: redisDir, port: redisPort, durable: true });
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
      await github.close();
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

/** One Redis command over a connection of its own (RESP by hand: the suite has no Redis client of its own). */
function redisCommand(port: number, ...args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request));
    let reply = '';
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else if (reply.startsWith('-')) reject(new Error(`Redis: ${reply.trim()}`));
      else resolve(reply);
    };
    socket.setTimeout(5_000, () => done(new Error('Redis did not answer')));
    socket.on('error', done);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      // A simple string or error is one line; a bulk string is its length line and then that many bytes.
      const bulk = /^\$(-?\d+)\r\n/.exec(reply);
      if (!bulk ? reply.includes('\r\n') : Number(bulk[1]) < 0 || Buffer.byteLength(reply) >= bulk[0].length + Number(bulk[1]) + 2) done();
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
