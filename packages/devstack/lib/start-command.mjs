// @ts-check
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './exec.mjs';
import { applyGithubAppEnv, githubAppBanner } from './github-app-env.mjs';
import { SetupError, bold, cyan, dim, green, red, say, yellow } from './log.mjs';
import { portInUse, startPostgres, startRedis } from './servers.mjs';
import { ROOT, STATE_DIR, ensurePnpm, installDependencies } from './workspace.mjs';

const SERVICES = [
  { name: 'ingest', color: cyan, portVar: 'INGEST_PORT', port: 3001 },
  { name: 'worker', color: yellow, portVar: 'WORKER_PORT', port: 3003 },
  { name: 'query', color: green, portVar: 'QUERY_PORT', port: 3002 },
];
const DEV_SECRET = 'ephemera-development-secret';
const DEV_ADMIN_USERNAME = 'admin';

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
  const env = { ...process.env, PATH: await ensurePnpm(), TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
  for (const s of SERVICES) {
    const port = Number(env[s.portVar] ?? s.port);
    if (await portInUse(port)) throw new SetupError(`port ${port} (${s.portVar}, ${s.name}) is already in use; set ${s.portVar} to a free port.`);
  }
  await installDependencies(env);
  say('building');
  await run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: ROOT, env });

  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(lock, String(process.pid));
  /** @type {Array<{ stop(): Promise<void> }>} */
  const servers = [];
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    await Promise.all(children.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve(undefined);
      c.once('exit', resolve);
      c.kill('SIGTERM');
    })));
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(lock, { force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  try {
    // The GitHub App /setup registered, unless the environment names one: its webhook secret is ingest's from now on.
    const githubApp = applyGithubAppEnv(env, ROOT);
    // Set before docker compose runs: Compose reads the whole file, and it requires GITHUB_WEBHOOK_SECRET,
    // QUEUE_SIGNING_KEY, ALLOWED_ACCOUNTS and REDIS_PASSWORD (Redis answers nobody without it; a new one each start
    // is enough for a local stack).
    env.GITHUB_WEBHOOK_SECRET ??= DEV_SECRET;
    const generatedSigningKey = !env.QUEUE_SIGNING_KEY?.trim();
    if (generatedSigningKey) env.QUEUE_SIGNING_KEY = developmentSigningKey();
    // A development stack serves every account unless told otherwise, as the services do outside production.
    if (!env.ALLOWED_ACCOUNTS?.trim()) env.ALLOWED_ACCOUNTS = '*';
    if ((!env.DATABASE_URL || !env.REDIS_URL) && dockerAvailable()) {
      say('Docker engine found: starting postgres and redis with docker compose');
      env.REDIS_PASSWORD ??= randomBytes(16).toString('hex');
      await run('docker', ['compose', 'up', '-d', '--wait', 'postgres', 'redis'], { cwd: ROOT, env });
      env.DATABASE_URL ??= 'postgresql://ephemera:ephemera@127.0.0.1:54329/ephemera';
      env.REDIS_URL ??= `redis://:${env.REDIS_PASSWORD}@127.0.0.1:63799`;
    }
    if (!env.DATABASE_URL) {
      const port = Number(env.EPHEMERA_PG_PORT ?? 54329);
      if (await portInUse(port)) throw new SetupError(`port ${port} for PostgreSQL is in use; set EPHEMERA_PG_PORT or DATABASE_URL.`);
      const pg = await startPostgres({ dir: path.join(STATE_DIR, 'postgres'), port, database: 'ephemera' });
      servers.push(pg);
      env.DATABASE_URL = pg.url;
    }
    if (!env.REDIS_URL) {
      const port = Number(env.EPHEMERA_REDIS_PORT ?? 63799);
      if (await portInUse(port)) throw new SetupError(`port ${port} for Redis is in use; set EPHEMERA_REDIS_PORT or REDIS_URL.`);
      const redis = await startRedis({ dir: path.join(STATE_DIR, 'redis'), port, durable: true });
      servers.push(redis);
      env.REDIS_URL = redis.url;
    }
    await run('pnpm', ['db:migrate'], { cwd: ROOT, env });
    env.PROVISIONER_DELAY_MS ??= '1500';
    const access = developmentAccess(env);
    // The PR comment links each preview to its page on this stack's dashboard.
    const queryPort = Number(env[SERVICES.find((s) => s.name === 'query').portVar] ?? SERVICES.find((s) => s.name === 'query').port);
    env.PUBLIC_URL ??= `http://localhost:${queryPort}`;

    for (const s of SERVICES) {
      const child = spawn(process.execPath, [path.join(ROOT, 'services', s.name, 'dist', 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const prefix = s.color(`${s.name.padEnd(6)} │`);
      for (const stream of [child.stdout, child.stderr]) {
        let buffered = '';
        stream?.on('data', (chunk) => {
          buffered += chunk.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) process.stdout.write(`${prefix} ${readable(line)}\n`);
        });
      }
      child.on('exit', (code, signal) => {
        if (!stopping) {
          say(red(`${s.name} exited (${signal ?? `code ${code}`}); stopping the stack`));
          void stopAll().then(() => process.exit(1));
        }
      });
    }
    // The banner comes once every service answers its readiness check, so what it lists works when read.
    for (const s of SERVICES) {
      const url = `http://127.0.0.1:${Number(env[s.portVar] ?? s.port)}/readyz`;
      const deadline = Date.now() + 60_000;
      while (!(await fetch(url).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline) throw new SetupError(`${s.name} did not become ready within 60 s (${url}); see its log lines above`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (env.SMEE_URL) {
      // Real GitHub deliveries through a smee.io channel, for trying a GitHub App without a public URL.
      const { default: SmeeClient } = await import('smee-client');
      const target = `http://localhost:${Number(env.INGEST_PORT ?? 3001)}/api/v1/webhooks/github`;
      const smee = new SmeeClient({ source: env.SMEE_URL, target, logger: { info: (...a) => say(`smee ${a.join(' ')}`), error: (...a) => say(red(`smee ${a.join(' ')}`)) } });
      await smee.start();
      say(`forwarding ${env.SMEE_URL} → ${target}`);
    }
    const port = (name) => Number(env[SERVICES.find((s) => s.name === name).portVar] ?? SERVICES.find((s) => s.name === name).port);
    const ingest = `http://localhost:${port('ingest')}`;
    const query = `http://localhost:${port('query')}`;
    process.stdout.write(`
${bold('Ephemera is running')}
  dashboard        ${query}/  ${dim('(sign in with the operator user and password below)')}
  webhook URL      ${ingest}/api/v1/webhooks/github
  webhook secret   ${env.GITHUB_WEBHOOK_SECRET === DEV_SECRET ? `${DEV_SECRET} ${dim('(development only; set GITHUB_WEBHOOK_SECRET)')}` : dim(githubApp.fromFile.includes('GITHUB_WEBHOOK_SECRET') ? `(the GitHub App's, from ${path.relative(ROOT, githubApp.file)})` : '(from GITHUB_WEBHOOK_SECRET)')}
  GitHub App       ${githubApp.offerSetup ? bold(githubAppBanner(env, githubApp, query, ROOT)) : githubAppBanner(env, githubApp, query, ROOT)}
  API              ${query}/api/v1/environments
                   ${access.apiOpen ? `API open (API_AUTH=none) — set API_TOKENS to require a token` : `a token from API_TOKENS is required ${dim('(Authorization: Bearer <token>)')}`}
  API docs         ${query}/docs
  queues           ${query}/admin/queues
  accounts         ${env.ALLOWED_ACCOUNTS === '*' ? `every account ${dim('(ALLOWED_ACCOUNTS=*; set ALLOWED_ACCOUNTS to the GitHub accounts to serve)')}` : env.ALLOWED_ACCOUNTS}
  queue jobs       signed with ${generatedSigningKey ? `a development key ${dim('(generated once, kept in .ephemera/queue-signing-key; set QUEUE_SIGNING_KEY)')}` : dim('QUEUE_SIGNING_KEY')}
  operator         ${access.devPassword ? `user ${env.ADMIN_USERNAME}, password ${env.ADMIN_PASSWORD} ${dim('(development only; set ADMIN_USERNAME and ADMIN_PASSWORD)')}` : `user ${env.ADMIN_USERNAME}, password ${dim('(from ADMIN_PASSWORD)')}`}
                   ${access.adminWrite ? 'changes allowed (ADMIN_WRITE=true)' : `read-only ${dim('(ADMIN_WRITE=true allows retrying, cleaning and removing jobs)')}`}
  config schema    ${query}/api/v1/config-schema.json
  provisioner      ${env.PROVISIONER === 'kubernetes' ? `kubernetes (${env.KUBECONFIG ?? 'in-cluster service account'}${env.KUBE_CONTEXT ? `, context ${env.KUBE_CONTEXT}` : ''})` : `none ${dim('(simulated; PROVISIONER=kubernetes with KUBECONFIG deploys to a cluster)')}`}
  worker metrics   http://localhost:${port('worker')}/metrics
  database         ${maskUrl(env.DATABASE_URL)}
  redis            ${maskUrl(env.REDIS_URL)}

  send a signed sample pull request event:
    node packages/devstack/bin/send-sample.mjs ${ingest}
  or replay a whole pull request (opened, two pushes, closed):
    ${access.apiOpen ? 'pnpm demo' : `API_TOKEN=<one of API_TOKENS> pnpm demo`}

${dim('Ctrl-C stops everything; data stays in .ephemera/')}
`);
    await new Promise(() => undefined);
    return 0;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The query service's access settings for a development stack, filled in where not given: without API_TOKENS
 * the API is served open on purpose (API_AUTH=none; given tokens always apply), and the queue dashboard gets the
 * user `admin` with a password generated once and kept in .ephemera/ (so it stays the same between runs).
 * @param {NodeJS.ProcessEnv} env changed in place
 */
function developmentAccess(env) {
  const hasTokens = (env.API_TOKENS ?? '').split(',').some((t) => t.trim() !== '');
  if (!hasTokens && !env.API_AUTH?.trim()) env.API_AUTH = 'none';
  let devPassword = false;
  if (!env.ADMIN_USERNAME?.trim()) env.ADMIN_USERNAME = DEV_ADMIN_USERNAME;
  if (!env.ADMIN_PASSWORD?.trim()) {
    env.ADMIN_PASSWORD = developmentPassword();
    devPassword = true;
  }
  return {
    apiOpen: !hasTokens && env.API_AUTH === 'none',
    devPassword,
    adminWrite: ['true', '1', 'yes'].includes(env.ADMIN_WRITE?.trim() ?? ''),
  };
}

/** The dashboard password of this checkout's development stack: 24 random characters, made on first use. */
function developmentPassword() {
  const file = path.join(STATE_DIR, 'admin-password');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 12) return kept;
  }
  const password = randomBytes(18).toString('base64url');
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * The QUEUE_SIGNING_KEY of this checkout's development stack: 32 random bytes in hex, made on first use and kept, so
 * that jobs left in its Redis (kept in .ephemera/ between runs) are still accepted by the next run's worker.
 */
function developmentSigningKey() {
  const file = path.join(STATE_DIR, 'queue-signing-key');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(kept) >= 32) return kept;
  }
  const key = randomBytes(32).toString('hex');
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** A connection URL with its password (if any) shown as ***, for printing. */
function maskUrl(url) {
  if (!url) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  }
}

/** True when a Docker engine answers (the client alone is not enough). */
function dockerAvailable() {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pino's JSON lines, shortened to "level message key=value …" for a terminal. */
function readable(line) {
  if (!line.startsWith('{')) return line;
  try {
    const { level, time: _t, service: _s, msg, ...rest } = JSON.parse(line);
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' ');
    const tag = level === 'error' || level === 'fatal' ? red(level) : level === 'warn' ? yellow(level) : dim(level);
    return `${tag} ${msg ?? ''} ${dim(fields)}`;
  } catch {
    return line;
  }
}
