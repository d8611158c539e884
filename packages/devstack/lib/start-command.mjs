// @ts-check
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { developmentAccess, developmentSecrets } from './development-settings.mjs';
import { run } from './exec.mjs';
import { applyGithubAppEnv } from './github-app-env.mjs';
import { SetupError, cyan, green, red, say, yellow } from './log.mjs';
import { portInUse, startPostgres, startRedis } from './servers.mjs';
import { startService, waitUntilReady } from './service-processes.mjs';
import { stackBanner } from './stack-banner.mjs';
import { ROOT, STATE_DIR, ensurePnpm, installDependencies } from './workspace.mjs';

/** @type {import('./service-processes.mjs').Service[]} */
const SERVICES = [
  { name: 'ingest', color: cyan, portVar: 'INGEST_PORT', port: 3001 },
  { name: 'worker', color: yellow, portVar: 'WORKER_PORT', port: 3003 },
  { name: 'query', color: green, portVar: 'QUERY_PORT', port: 3002 },
];

/**
 * The port a service listens on: its variable's value, else its default.
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 */
function servicePort(env, name) {
  const service = /** @type {import('./service-processes.mjs').Service} */ (SERVICES.find((s) => s.name === name));
  return Number(env[service.portVar] ?? service.port);
}

/** What the stack has started, stopped together (the services first, then what they use) and only once. */
class RunningStack {
  /** @type {Array<{ stop(): Promise<void> }>} */
  servers = [];
  /** @type {import('node:child_process').ChildProcess[]} */
  children = [];
  stopping = false;

  /** @param {string} lock the file that says this stack runs, removed when it stops */
  constructor(lock) {
    this.lock = lock;
  }

  async stopAll() {
    if (this.stopping) return;
    this.stopping = true;
    say('stopping');
    await Promise.all(this.children.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve(undefined);
      c.once('exit', resolve);
      c.kill('SIGTERM');
    })));
    await Promise.all(this.servers.map((s) => s.stop()));
    rmSync(this.lock, { force: true });
  }
}

/**
 * `npm start`: the whole stack on this machine. PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when
 * set, otherwise they run here with their data in .ephemera/ (kept between runs). Migrations are applied, the
 * services built and started with prefixed logs. Ctrl-C stops everything.
 */
export async function startCommand() {
  const lock = path.join(STATE_DIR, 'stack.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (pid && isAlive(pid)) throw new SetupError(`Ephemera is already running here (pid ${pid}); stop it with Ctrl-C in its terminal first.`);
  }
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, PATH: await ensurePnpm(), TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
  for (const s of SERVICES) {
    const port = servicePort(env, s.name);
    if (await portInUse(port)) throw new SetupError(`port ${port} (${s.portVar}, ${s.name}) is already in use; set ${s.portVar} to a free port.`);
  }
  await installDependencies(env);
  say('building');
  await run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: ROOT, env });

  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(lock, String(process.pid));
  const stack = new RunningStack(lock);
  process.once('SIGINT', () => void stack.stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stack.stopAll().then(() => process.exit(0)));

  try {
    // The GitHub App /setup registered, unless the environment names one: its webhook secret is ingest's from now on.
    const githubApp = applyGithubAppEnv(env, ROOT);
    const { generatedSigningKey } = developmentSecrets(env);
    await startDataStores(env, stack);
    await run('pnpm', ['db:migrate'], { cwd: ROOT, env });
    env.PROVISIONER_DELAY_MS ??= '1500';
    const access = developmentAccess(env);
    // The PR comment links each preview to its page on this stack's dashboard.
    env.PUBLIC_URL ??= `http://localhost:${servicePort(env, 'query')}`;
    for (const s of SERVICES) {
      const child = startService(s, env);
      stack.children.push(child);
      child.on('exit', (code, signal) => {
        if (!stack.stopping) {
          say(red(`${s.name} exited (${signal ?? `code ${code}`}); stopping the stack`));
          void stack.stopAll().then(() => process.exit(1));
        }
      });
    }
    // The banner comes once every service answers its readiness check, so what it lists works when read.
    for (const s of SERVICES) await waitUntilReady(s, servicePort(env, s.name));
    if (env.SMEE_URL) await forwardSmee(env.SMEE_URL, `http://localhost:${Number(env.INGEST_PORT ?? 3001)}/api/v1/webhooks/github`);
    process.stdout.write(stackBanner({ env, githubApp, access, generatedSigningKey, port: (name) => servicePort(env, name) }));
    await new Promise(() => undefined);
    return 0;
  } catch (err) {
    await stack.stopAll();
    throw err;
  }
}

/**
 * PostgreSQL and Redis for the stack, unless DATABASE_URL and REDIS_URL name them: with docker compose when a Docker
 * engine answers, else run here with their data in .ephemera/. Sets both URLs.
 * @param {NodeJS.ProcessEnv} env changed in place
 * @param {RunningStack} stack where the servers started here are kept, to be stopped with it
 */
async function startDataStores(env, stack) {
  if ((!env.DATABASE_URL || !env.REDIS_URL) && dockerAvailable()) {
    say('Docker engine found: starting postgres and redis with docker compose');
    // Compose requires REDIS_PASSWORD (Redis answers nobody without it; a new one each start is enough for a local
    // stack).
    env.REDIS_PASSWORD ??= randomBytes(16).toString('hex');
    await run('docker', ['compose', 'up', '-d', '--wait', 'postgres', 'redis'], { cwd: ROOT, env });
    env.DATABASE_URL ??= 'postgresql://ephemera:ephemera@127.0.0.1:54329/ephemera';
    env.REDIS_URL ??= `redis://:${env.REDIS_PASSWORD}@127.0.0.1:63799`;
  }
  if (!env.DATABASE_URL) {
    const port = Number(env.EPHEMERA_PG_PORT ?? 54329);
    if (await portInUse(port)) throw new SetupError(`port ${port} for PostgreSQL is in use; set EPHEMERA_PG_PORT or DATABASE_URL.`);
    const pg = await startPostgres({ dir: path.join(STATE_DIR, 'postgres'), port, database: 'ephemera' });
    stack.servers.push(pg);
    env.DATABASE_URL = pg.url;
  }
  if (!env.REDIS_URL) {
    const port = Number(env.EPHEMERA_REDIS_PORT ?? 63799);
    if (await portInUse(port)) throw new SetupError(`port ${port} for Redis is in use; set EPHEMERA_REDIS_PORT or REDIS_URL.`);
    const redis = await startRedis({ dir: path.join(STATE_DIR, 'redis'), port, durable: true });
    stack.servers.push(redis);
    env.REDIS_URL = redis.url;
  }
}

/**
 * Real GitHub deliveries through a smee.io channel, for trying a GitHub App without a public URL.
 * @param {string} source the channel
 * @param {string} target ingest's webhook endpoint
 */
async function forwardSmee(source, target) {
  const { default: SmeeClient } = await import('smee-client');
  const smee = new SmeeClient({ source, target, logger: { info: (...a) => say(`smee ${a.join(' ')}`), error: (...a) => say(red(`smee ${a.join(' ')}`)) } });
  await smee.start();
  say(`forwarding ${source} → ${target}`);
}

/** True when a Docker engine answers (the client alone is not enough). */
function dockerAvailable() {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
}

/** @param {number} pid */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
