// pnpm test:faults — the real processes, broken on purpose, and the invariants that must hold afterwards.
// FAULTS_SCALE=full runs the sizes (5,000-delivery burst, two minutes of sustained load, 5,000 hostile
// cases); the default is the bounded run `npm test` makes. FAULTS_ONLY=name,name runs some scenarios only.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Outcome } from './check.js';
import type { Scenario, ScenarioContext } from './scenarios/context.js';
import { duplicatesShuffled } from './scenarios/duplicates-shuffled.js';
import { closedDropped } from './scenarios/closed-dropped.js';
import { hostileInput } from './scenarios/hostile-input.js';
import { postgresStopped } from './scenarios/postgres-stopped.js';
import { redisKilled } from './scenarios/redis-killed.js';
import { redisRestarted } from './scenarios/redis-restarted.js';
import { sustainedLoad } from './scenarios/sustained-load.js';
import { workerKilled } from './scenarios/worker-killed.js';
import { startStack } from './stack.js';

/**
 * In the order they run: hostile input first, while the queues are still empty and ingest's memory fresh; the
 * scenarios that go through the fake GitHub last.
 */
const SCENARIOS: Scenario[] = [
  hostileInput,
  duplicatesShuffled,
  workerKilled,
  redisRestarted,
  postgresStopped,
  sustainedLoad,
  closedDropped,
  redisKilled,
];

function selected(): Scenario[] {
  const only = process.env.FAULTS_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!only?.length) return SCENARIOS;
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return SCENARIOS.filter((s) => only.includes(s.name));
}

function table(outcomes: Outcome[]): string {
  const head = `${'scenario'.padEnd(62)} ${'sent'.padStart(6)} ${'accepted'.padStart(9)} ${'applied'.padStart(8)} ${'lost'.padStart(5)}  result`;
  const rows = outcomes.map(
    (o) =>
      `${o.scenario.padEnd(62)} ${String(o.sent).padStart(6)} ${String(o.accepted).padStart(9)} ${String(o.applied).padStart(8)} ${String(o.lost).padStart(5)}  ${o.pass ? 'pass' : 'FAIL'}`,
  );
  return [head, ...rows].join('\n');
}

/** For `npm test`'s closing line: the same summary file each package's Jest reporter writes. */
function writeResults(outcomes: Outcome[]): void {
  const dir = process.env.EPHEMERA_TEST_RESULTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const passed = outcomes.filter((o) => o.pass).length;
  writeFileSync(
    path.join(dir, 'ephemera-faults.json'),
    JSON.stringify({ name: '@ephemera/faults', passed, failed: outcomes.length - passed, skipped: 0 }),
  );
}

async function main(): Promise<number> {
  const scenarios = selected();
  const full = process.env.FAULTS_SCALE === 'full';
  process.stdout.write(`fault suite, ${full ? 'full' : 'bounded'} scale: ${scenarios.map((s) => s.name).join(', ')}\n`);
  const stack = await startStack();
  // Interrupted (Ctrl-C, a CI timeout): the servers and services this run started go with it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the fault suite's servers\n`);
      void stack.stop().finally(() => process.exit(130));
    });
  }
  const outcomes: Outcome[] = [];
  try {
    const ctx: ScenarioContext = {
      stack,
      full,
      ingest: await stack.startService('ingest'),
      query: await stack.startService('query'),
      workers: [await stack.startService('worker', 'worker-1'), await stack.startService('worker', 'worker-2')],
    };
    for (const scenario of scenarios) {
      const started = Date.now();
      const o = await scenario.run(ctx).catch(
        (err: unknown): Outcome => ({
          scenario: scenario.name,
          sent: 0,
          accepted: 0,
          applied: 0,
          lost: 0,
          pass: false,
          detail: `scenario failed: ${err instanceof Error ? err.message : String(err)}`,
        }),
      );
      outcomes.push(o);
      process.stdout.write(
        `${o.pass ? 'PASS' : 'FAIL'} ${o.scenario}: sent ${o.sent}, accepted ${o.accepted}, applied ${o.applied}, lost ${o.lost} (${Math.round((Date.now() - started) / 1000)} s) — ${o.detail}\n`,
      );
    }
  } finally {
    await stack.stop();
  }
  process.stdout.write(`\n${table(outcomes)}\n`);
  const passed = outcomes.filter((o) => o.pass).length;
  process.stdout.write(`faults: ${passed} passed, ${outcomes.length - passed} failed\n`);
  writeResults(outcomes);
  return passed === outcomes.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fault suite failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
