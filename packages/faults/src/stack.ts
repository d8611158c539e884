import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Migrator, defaultPrismaDir } from '@ephemera/db/migrate';
import { freePort, startFakeGithub, startPostgres, startRedis, type FakeGithub, type RunningServer } from '@ephemera/testkit';
import { aofMarkIn, redisCommand, type AofMark } from './redis-aof.js';
import { serviceEnvironments, type ServiceName } from './service-env.js';

export { ALLOWED_ACCOUNT, INGEST_INFLIGHT_LIMIT, QUERY_API_TOKEN, RESYNC_INTERVAL_MS, SECRET } from './service-env.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Service {
  name: string;
  port: number;
  process: ChildProcess;
}

/** Where the stack's servers keep their files and listen. */
interface StackPlaces {
  scratch: string;
  pgPort: number;
  redisPort: number;
}

/**
 * PostgreSQL, Redis (AOF on) and the three services as separate processes, two workers among them, and a fake
 * GitHub the workers hold App credentials for (feedback, redelivery and resync go to it): the stack an operator
 * runs, which the scenarios then break.
 */
export async function startStack(): Promise<Stack> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'ephemera-faults-'));
  await chmod(scratch, 0o755);
  const places = { scratch, pgPort: await freePort(), redisPort: await freePort() };
  const postgres = await startStackPostgres(places);
  const redis = await startStackRedis(places);
  const github = await startFakeGithub();
  await new Migrator({ databaseUrl: postgres.url, prismaDir: defaultPrismaDir() }).migrate();
  return new Stack(places, postgres, redis, github);
}

function startStackPostgres({ scratch, pgPort }: StackPlaces): Promise<RunningServer> {
  return startPostgres({ dir: path.join(scratch, 'pg'), port: pgPort, database: 'ephemera' });
}

function startStackRedis({ scratch, redisPort }: StackPlaces): Promise<RunningServer> {
  return startRedis({ dir: path.join(scratch, 'redis'), port: redisPort, durable: true });
}

/** The running stack, with what the scenarios do to it. */
export class Stack {
  readonly db: pg.Pool;
  readonly redisUrl: string;
  readonly services: Service[] = [];
  private readonly env: Record<ServiceName, Record<string, string | undefined>>;
  private readonly redisDir: string;

  constructor(
    private readonly places: StackPlaces,
    private postgres: RunningServer,
    private redis: RunningServer,
    /** The fake GitHub the workers talk to (and that can send deliveries to ingest). */
    readonly github: FakeGithub,
  ) {
    this.db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    this.db.on('error', () => undefined);
    this.redisUrl = redis.url;
    this.redisDir = path.join(places.scratch, 'redis');
    this.env = serviceEnvironments({ database: postgres.url, redis: redis.url, github: github.url });
  }

  async startService(name: ServiceName, label: string = name): Promise<Service> {
    const port = await freePort();
    const portVar = { ingest: 'INGEST_PORT', worker: 'WORKER_PORT', query: 'QUERY_PORT' }[name];
    const child = spawn(process.execPath, [path.join(ROOT, 'services', name, 'dist', 'main.js')], {
      env: { ...this.env[name], [portVar]: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const service = { name: label, port, process: child };
    const deadline = Date.now() + 30_000;
    while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null) throw new Error(`${label} exited during start-up`);
      if (Date.now() > deadline) throw new Error(`${label} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.services.push(service);
    return service;
  }

  /**
   * Where the AOF ends now, for {@link killRedis} to cut it back to. Automatic AOF rewrites are turned off until
   * Redis next starts, so the file marked is still the one appended to when Redis is killed.
   */
  async aofMark(): Promise<AofMark> {
    await redisCommand(this.places.redisPort, 'CONFIG', 'SET', 'auto-aof-rewrite-percentage', '0');
    const info = await redisCommand(this.places.redisPort, 'INFO', 'persistence');
    if (!/aof_rewrite_in_progress:0/.test(info)) throw new Error('an AOF rewrite is in progress');
    return aofMarkIn(this.redisDir);
  }

  /**
   * SIGKILLs Redis (no shutdown, no final write), and with `loseSince` cuts its AOF back to that mark: what an
   * operating system crash leaves of `appendfsync everysec` when the last writes had not been fsynced. A SIGKILL
   * alone loses nothing Redis acknowledged, since Redis hands every write to the kernel before it answers; the
   * cut is how the scenario loses acknowledged writes for certain. Returns the bytes of AOF cut.
   */
  async killRedis(options: { loseSince?: AofMark } = {}): Promise<number> {
    const killed = this.redis.process;
    if (killed.exitCode === null && killed.signalCode === null) {
      const exited = new Promise((r) => killed.once('exit', r));
      killed.kill('SIGKILL');
      await exited;
    }
    if (!options.loseSince) return 0;
    const now = await aofMarkIn(this.redisDir);
    if (now.file !== options.loseSince.file) throw new Error(`the AOF moved on from ${options.loseSince.file} to ${now.file}`);
    await truncate(path.join(this.redisDir, 'appendonlydir', now.file), options.loseSince.size);
    return now.size - options.loseSince.size;
  }

  /** Starts Redis again after {@link killRedis}, from its (possibly cut) append-only file. */
  async bringRedisBack(): Promise<void> {
    this.redis = await startStackRedis(this.places);
  }

  async kill(service: Service, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const exited = new Promise((r) => service.process.once('exit', r));
    service.process.kill(signal);
    await exited;
    this.services.splice(this.services.indexOf(service), 1);
  }

  async restartRedis(downMs: number): Promise<void> {
    await this.redis.stop();
    await sleep(downMs);
    this.redis = await startStackRedis(this.places);
  }

  async restartPostgres(downMs: number): Promise<void> {
    await this.postgres.stop();
    await sleep(downMs);
    this.postgres = await startStackPostgres(this.places);
  }

  async stop(): Promise<void> {
    for (const s of [...this.services]) {
      s.process.kill('SIGKILL');
    }
    await this.db.end().catch(() => undefined);
    await this.github.close();
    await this.redis.stop();
    await this.postgres.stop();
    await rm(this.places.scratch, { recursive: true, force: true });
  }
}

/** Resident memory of a service's process in MB, from /proc (the suite runs where the services run: Linux). */
export async function residentMb(service: Service): Promise<number> {
  const status = await readFile(`/proc/${service.process.pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
