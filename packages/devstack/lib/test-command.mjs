// @ts-check
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prefixed, run } from './exec.mjs';
import { bold, green, red, say } from './log.mjs';
import { freePort, startPostgres, startRedis, findPostgresBinDir } from './servers.mjs';
import { ROOT, ensurePnpm, installDependencies } from './workspace.mjs';

const WORKER = '@ephemera/worker';

/**
 * `npm test`: installs what is missing, starts a throwaway PostgreSQL and Redis, applies the migrations, then
 * runs build, typecheck, lint and every package's tests through turbo, then the bounded fault suite, and prints
 * one closing line with the test counts of the whole workspace. Extra arguments go to turbo (e.g. `npm test -- --filter=@ephemera/db`).
 */
export async function testCommand(args) {
  const PATH = await ensurePnpm();
  const baseEnv = { ...process.env, PATH, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
  await installDependencies(baseEnv);

  // Under the system temp folder rather than the checkout: when we are root, PostgreSQL runs as the postgres
  // user, which may not be allowed into the checkout's parent folders.
  const scratch = mkdtempSync(path.join(tmpdir(), 'ephemera-test-'));
  chmodSync(scratch, 0o755);
  const resultsDir = path.join(scratch, 'results');
  /** @type {Array<{ stop(): Promise<void> }>} */
  const servers = [];
  const cleanup = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(scratch, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    say(`${signal}: stopping test servers`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const pg = await startPostgres({ dir: path.join(scratch, 'pg'), port: await freePort(), database: 'ephemera_test', fast: true });
    servers.push(pg);
    const redis = await startRedis({ dir: path.join(scratch, 'redis'), port: await freePort(), durable: false });
    servers.push(redis);
    say(`test PostgreSQL ${pg.url}, Redis ${redis.url}`);
    const env = {
      ...baseEnv,
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      PG_BIN_DIR: findPostgresBinDir() ?? '',
      EPHEMERA_TEST_RESULTS: resultsDir,
      NODE_ENV: 'test',
      CI: process.env.CI ?? '',
      // The key the suites' producers and workers share (each test harness signs its jobs with it), and the fault
      // suite gives its service processes.
      QUEUE_SIGNING_KEY: randomBytes(32).toString('hex'),
    };
    await run('pnpm', ['db:migrate'], { cwd: ROOT, env });
    let failed = false;
    const turbo = (tasks, extra = []) => run('pnpm', ['exec', 'turbo', 'run', ...tasks, '--concurrency=2', '--continue', '--output-logs=new-only', ...extra], { cwd: ROOT, env });
    const passed = (promise) => promise.then(() => true, () => false);
    if (args.length > 0) {
      failed = !(await passed(turbo(['build', 'typecheck', 'lint', 'test'], args)));
    } else {
      // Everything is built first; then the worker's suite, by far the longest and mostly waiting on timers and I/O
      // rather than the CPU, runs alongside the rest instead of wherever turbo happens to schedule it (often last).
      if (await passed(turbo(['build']))) {
        const results = await Promise.all([
          passed(prefixed('pnpm', ['--filter', WORKER, 'run', '--silent', 'test'], `${WORKER}:test: `, { cwd: ROOT, env })),
          passed(turbo(['typecheck', 'lint', 'test'], [`--filter=!${WORKER}`])).then(async (ok) => (await passed(turbo(['typecheck', 'lint'], [`--filter=${WORKER}`]))) && ok),
        ]);
        failed = results.includes(false);
      } else {
        failed = true;
      }
    }
    // The fault suite in its bounded form, after the rest so it has the machine to itself: it starts its own
    // PostgreSQL, Redis and service processes, since it stops and restarts them. It adds its own line to the
    // results. `npm test -- --filter=…` (a part of the workspace) leaves it out.
    if (!args.some((a) => a.startsWith('--filter'))) {
      try {
        await run('pnpm', ['--filter', '@ephemera/faults', 'run', '--silent', 'faults'], { cwd: ROOT, env: { ...env, FAULTS_SCALE: 'bounded' } });
      } catch {
        failed = true;
      }
    }
    const totals = sumResults(resultsDir);
    process.stdout.write(`\n${bold('Test suites')}: ${totals.suites.map((s) => `${s.name} ${s.passed}/${s.passed + s.failed}`).join(', ') || 'none ran'}\n`);
    if (failed) process.stdout.write(red('Some build, typecheck, lint, test or fault-suite tasks failed (see above).\n'));
    const line = `${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`;
    process.stdout.write(`${failed || totals.failed ? red(line) : green(line)}\n`);
    return failed || totals.failed > 0 || totals.passed === 0 ? 1 : 0;
  } finally {
    await cleanup();
  }
}

/** Adds up what each package's Jest summary reporter wrote. */
function sumResults(dir) {
  const totals = { passed: 0, failed: 0, skipped: 0, suites: /** @type {Array<{name: string, passed: number, failed: number}>} */ ([]) };
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return totals;
  }
  for (const file of files.sort()) {
    const r = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    totals.passed += r.passed;
    totals.failed += r.failed;
    totals.skipped += r.skipped;
    totals.suites.push({ name: r.name, passed: r.passed, failed: r.failed });
  }
  return totals;
}
