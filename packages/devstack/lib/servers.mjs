// @ts-check
// PostgreSQL and Redis as child processes of the tool that needs them: the stack of `npm start`, the throwaway
// servers of `npm test`, and the servers the fault suite stops and starts on purpose.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { capture, run, which } from './exec.mjs';
import { SetupError, say } from './log.mjs';

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** True when something already listens on the port. */
export function portInUse(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- PostgreSQL

/** The folder holding initdb and postgres: PG_BIN_DIR, PATH, or Debian's /usr/lib/postgresql/<version>/bin. */
export function findPostgresBinDir() {
  if (process.env.PG_BIN_DIR && existsSync(path.join(process.env.PG_BIN_DIR, 'postgres'))) return process.env.PG_BIN_DIR;
  const fromConfig = capture('pg_config', ['--bindir']);
  if (fromConfig && existsSync(path.join(fromConfig, 'initdb'))) return fromConfig;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(path.join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  const initdb = which('initdb');
  if (initdb && existsSync(path.join(path.dirname(initdb), 'postgres'))) return path.dirname(initdb);
  return null;
}

/**
 * PostgreSQL refuses to run as root; when we are root the server runs as the `postgres` system user, which
 * Debian's server packages create.
 * @returns {{ uid: number, gid: number } | undefined}
 */
function postgresIdentity() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = capture('id', ['-u', 'postgres']);
  const gid = capture('id', ['-g', 'postgres']);
  if (uid === null || gid === null) {
    throw new SetupError(
      'PostgreSQL cannot run as root and there is no "postgres" user: create one (useradd --system postgres) or run as a normal user.',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTree(dir, id) {
  if (!id) return;
  spawnSync('chown', ['-R', `${id.uid}:${id.gid}`, dir]);
}

/**
 * Starts PostgreSQL with its data in `dir` (initialised on first use, kept afterwards), listening on
 * 127.0.0.1:`port` with trust authentication for local development and tests.
 * @param {{ dir: string, port: number, database: string, fast?: boolean }} options
 *   fast: no fsync (throwaway test clusters only).
 */
export async function startPostgres({ dir, port, database, fast = false }) {
  const bin = findPostgresBinDir();
  if (!bin) {
    throw new SetupError(
      'PostgreSQL server binaries not found. Install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), set PG_BIN_DIR to their folder, or set DATABASE_URL to a server you run.',
    );
  }
  const id = postgresIdentity();
  const dataDir = path.join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (id) {
    chownSync(dir, id.uid, id.gid);
    assertReachable(dir, id);
  }
  const asPg = id ? { uid: id.uid, gid: id.gid } : {};
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    say(`initialising PostgreSQL in ${dataDir}`);
    await run(
      path.join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions'],
      { ...asPg, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  chownTree(dir, id);
  const logFile = path.join(dir, 'postgres.log');
  const out = openSync(logFile, 'a');
  if (id) chownSync(logFile, id.uid, id.gid);
  const args = ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'];
  if (fast) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const child = spawn(path.join(bin, 'postgres'), args, { ...asPg, stdio: ['ignore', out, out] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await waitFor(() => isPostgresReady(bin, port), 30_000, exited);
  if (!ready) {
    child.kill('SIGKILL');
    throw new SetupError(`PostgreSQL did not start on port ${port}; see ${logFile}`);
  }
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  await ensureDatabase(bin, port, database);
  // SIGINT is PostgreSQL's fast shutdown: running transactions are rolled back, the data stays.
  return runningServer({ url, port, logFile, child, exited }, 'SIGINT', 20_000);
}

function assertReachable(dir, id) {
  // The postgres user must be able to enter every parent folder of the data directory.
  const probe = spawnSync('test', ['-w', dir], { uid: id.uid, gid: id.gid });
  if (probe.status !== 0) {
    throw new SetupError(
      `the postgres user cannot reach ${dir} (a parent folder is closed to other users); set DATABASE_URL to a server you run, or move the checkout.`,
    );
  }
}

function isPostgresReady(bin, port) {
  const r = spawnSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
  return r.status === 0;
}

async function ensureDatabase(bin, port, database) {
  const psql = path.join(bin, 'psql');
  const exists = capture(psql, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-Atc', `SELECT 1 FROM pg_database WHERE datname = '${database.replace(/'/g, "''")}'`]);
  if (exists === '1') return;
  await run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', database]);
}

// ---------------------------------------------------------------- Redis

/** redis-server on PATH, installed from Debian's packages when missing and we are root on Debian/Ubuntu. */
async function ensureRedisServer() {
  const found = which('redis-server');
  if (found) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && which('apt-get')) {
    say('redis-server not found; installing Debian\'s redis-server package');
    await run('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    await run('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    // Debian starts the packaged service on :6379; ours runs on its own port, so that one is left alone.
    const installed = which('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null);
    if (installed) return installed;
  }
  throw new SetupError(
    'redis-server not found. Install Redis 6.2 or newer (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or set REDIS_URL to a server you run.',
  );
}

/**
 * Starts Redis on 127.0.0.1:`port` with its files in `dir`. `durable`: append-only file on (what BullMQ needs
 * to survive a restart); otherwise nothing is written to disk. Eviction is off, as BullMQ requires.
 * @param {{ dir: string, port: number, durable?: boolean }} options
 */
export async function startRedis({ dir, port, durable = true }) {
  const server = await ensureRedisServer();
  mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'redis.log');
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction',
    '--appendonly', durable ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--save', '',
    '--logfile', logFile,
  ];
  const child = spawn(server, args, { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await waitFor(() => redisPing(port), 15_000, exited);
  // A PING answered while this server has already exited came from another Redis that took the port.
  if (!ready || child.exitCode !== null || child.signalCode !== null) {
    child.kill('SIGKILL');
    throw new SetupError(`Redis did not start on port ${port}; see ${logFile}`);
  }
  return runningServer({ url: `redis://127.0.0.1:${port}`, port, logFile, child, exited }, 'SIGTERM', 10_000);
}

/** True when a Redis server answers PING on the port. */
function redisPing(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** Polls `check` until it is true, the time is up, or the process exits. */
/**
 * A started server as its callers hold it. `stop()` asks it to shut down with `signal`, and kills it when it has not
 * exited `graceMs` later.
 * @param {{ url: string, port: number, logFile: string, child: import('node:child_process').ChildProcess, exited: Promise<unknown> }} server
 * @param {NodeJS.Signals} signal
 * @param {number} graceMs
 * @returns {import('./servers.d.mts').RunningServer}
 */
function runningServer({ url, port, logFile, child, exited }, signal, graceMs) {
  return {
    url,
    port,
    logFile,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await Promise.race([exited, sleep(graceMs)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

async function waitFor(check, timeoutMs, exited) {
  let gone = false;
  exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

function isDirectory(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
