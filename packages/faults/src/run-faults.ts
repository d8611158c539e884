// pnpm test:faults — the real processes, broken on purpose, and the invariants that must hold afterwards.
// FAULTS_SCALE=full runs the sizes; the default is a bounded run.
// Scenarios still to come: Redis restarted mid-burst, PostgreSQL stopped for 15 s, hostile input, sustained load.
import { Queue } from 'bullmq';
import { ALL_QUEUES } from '@ephemera/schema';
import { shuffled } from '@ephemera/testkit';
import { lifecycleDeliveries, send, type Expected } from './deliveries.js';
import { startStack, type Stack } from './stack.js';

const FULL = process.env.FAULTS_SCALE === 'full';

interface Outcome {
  scenario: string;
  sent: number;
  accepted: number;
  applied: number;
  lost: number;
  pass: boolean;
  detail: string;
}

async function waitForQuiet(stack: Stack, acceptedIds: string[], timeoutMs: number) {
  const queues = ALL_QUEUES.map((name) => new Queue(name, { connection: { url: stack.redisUrl }, prefix: 'ephemera' }));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized').catch(() => null)));
      const busy = counts.some((c) => c === null || Object.values(c).some((n) => n > 0));
      const { rows } = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM processed_deliveries WHERE delivery_id = ANY($1)', [acceptedIds]);
      if (!busy && rows[0]!.n === new Set(acceptedIds).size) return;
      if (Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** Accepted deliveries applied exactly once, and every PR in its expected final state. */
async function check(stack: Stack, scenario: string, sent: number, acceptedIds: string[], expected: Map<number, Expected>): Promise<Outcome> {
  const unique = [...new Set(acceptedIds)];
  const { rows: applied } = await stack.db.query<{ delivery_id: string }>('SELECT delivery_id FROM processed_deliveries WHERE delivery_id = ANY($1)', [unique]);
  const lost = unique.length - applied.length;
  const { rows: envs } = await stack.db.query<{ pr_number: number; status: string; commit_sha: string; pr_title: string }>(
    'SELECT pr_number, status::text AS status, commit_sha, pr_title FROM environments WHERE pr_number = ANY($1)',
    [[...expected.keys()]],
  );
  const wrong = [...expected].filter(([pr, e]) => {
    const env = envs.find((x) => x.pr_number === pr);
    return !env || env.status !== e.status || env.commit_sha !== e.commitSha || env.pr_title !== e.title;
  });
  const { rows: stuck } = await stack.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM environments WHERE status IN ('PENDING','PROVISIONING','UPDATING','DESTROYING')",
  );
  const pass = lost === 0 && wrong.length === 0 && stuck[0]!.n === 0;
  return {
    scenario,
    sent,
    accepted: acceptedIds.length,
    applied: applied.length,
    lost,
    pass,
    detail: pass ? 'final states as in a calm run' : `${wrong.length} PR(s) in the wrong state (first: #${wrong[0]?.[0]}), ${stuck[0]!.n} stuck`,
  };
}

async function duplicatesShuffled(stack: Stack, ingestPort: number): Promise<Outcome> {
  const { deliveries, expected } = await lifecycleDeliveries(FULL ? 300 : 40, 1);
  const twice = shuffled([...deliveries, ...deliveries], 11);
  const { accepted } = await send(ingestPort, twice);
  await waitForQuiet(stack, accepted, 120_000);
  return check(stack, 'same deliveries twice, shuffled, two workers', twice.length, accepted, expected);
}

async function workerKilled(stack: Stack, ingestPort: number, victim: { current: Awaited<ReturnType<Stack['startService']>> }): Promise<Outcome> {
  const { deliveries, expected } = await lifecycleDeliveries(FULL ? 1_100 : 120, 10_000);
  const burst = send(ingestPort, deliveries);
  let kills = 0;
  let done = false;
  void burst.then(() => (done = true));
  while (!done || kills < 3) {
    await new Promise((r) => setTimeout(r, 700));
    await stack.kill(victim.current, 'SIGKILL');
    kills++;
    victim.current = await stack.startService('worker', 'worker-1');
    if (kills >= (FULL ? 20 : 6)) break;
  }
  const { accepted } = await burst;
  await waitForQuiet(stack, accepted, 180_000);
  const outcome = await check(stack, `worker SIGKILLed ${kills}× during a burst`, deliveries.length, accepted, expected);
  return outcome;
}

async function main(): Promise<number> {
  const stack = await startStack();
  const outcomes: Outcome[] = [];
  try {
    const ingest = await stack.startService('ingest');
    const victim = { current: await stack.startService('worker', 'worker-1') };
    await stack.startService('worker', 'worker-2');
    for (const scenario of [() => duplicatesShuffled(stack, ingest.port), () => workerKilled(stack, ingest.port, victim)]) {
      const o = await scenario();
      outcomes.push(o);
      process.stdout.write(
        `${o.pass ? 'PASS' : 'FAIL'} ${o.scenario}: sent ${o.sent}, accepted ${o.accepted}, applied ${o.applied}, lost ${o.lost} — ${o.detail}\n`,
      );
    }
  } finally {
    await stack.stop();
  }
  process.stdout.write(`\n${'scenario'.padEnd(48)} ${'sent'.padStart(6)} ${'accepted'.padStart(9)} ${'applied'.padStart(8)} ${'lost'.padStart(5)}  result\n`);
  for (const o of outcomes) {
    process.stdout.write(`${o.scenario.padEnd(48)} ${String(o.sent).padStart(6)} ${String(o.accepted).padStart(9)} ${String(o.applied).padStart(8)} ${String(o.lost).padStart(5)}  ${o.pass ? 'pass' : 'FAIL'}\n`);
  }
  const passed = outcomes.filter((o) => o.pass).length;
  process.stdout.write(`faults: ${passed} passed, ${outcomes.length - passed} failed\n`);
  return passed === outcomes.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fault suite failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
