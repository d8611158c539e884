import fc from 'fast-check';
import { Queue } from 'bullmq';
import { QUEUES } from '@ephemera/schema';
import type { Outcome } from '../check.js';
import { httpPost, rawRequest, type Answer } from '../hostile-requests.js';
import { INGEST_INFLIGHT_LIMIT, residentMb } from '../stack.js';
import type { Scenario } from './context.js';
import { acceptable, caseArbitrary, requestOf } from './hostile-input/hostile-cases.js';
import { largeBatchArbitrary, sendLargeBatch } from './hostile-input/large-bodies.js';
import { REAL, goodHeaders, signature } from './hostile-input/signing.js';

/**
 * Growth of ingest's resident memory over the whole scenario that still counts as bounded. 26 MB bodies and
 * 200,000-deep documents pass through it, and V8 keeps some of the heap it grew for them; a leak per request
 * would pass this within the first few thousand cases.
 */
const MEMORY_BOUND_MB = 150;

async function webhookJobs(redisUrl: string): Promise<number> {
  const queue = new Queue(QUEUES.webhooks, { connection: { url: redisUrl }, prefix: 'ephemera' });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
  }
}

/**
 * A control first: the genuine delivery the cases are made from, sent the same way, must be queued —
 * otherwise every refusal below could be the harness's fault rather than ingest's judgement.
 */
async function sendControl(port: number): Promise<void> {
  const control = await rawRequest(port, httpPost(port, { ...goodHeaders(), ...signature('valid', REAL) }, REAL));
  if (control.status !== 202 || !control.body.includes('"queued"')) {
    throw new Error(`the genuine control delivery was answered ${control.status} ${control.body}`);
  }
}

/** Slow clients: a whole request, 16 bytes every 20 ms, `count` at once. */
function slowClients(port: number, count: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const body = REAL.subarray(0, 2_000);
      return rawRequest(port, httpPost(port, { ...goodHeaders(), ...(signature('wrong-secret', body)) }, body), { chunkDelayMs: 20 });
    }),
  );
}

/** Bodies over the cap, sent whole, one after the other. */
async function oversizedBodies(port: number, count: number): Promise<Answer[]> {
  const oversized: Answer[] = [];
  for (let i = 0; i < count; i++) {
    const body = Buffer.alloc(26 * 1024 * 1024, 0x20);
    oversized.push(await rawRequest(port, httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body)));
  }
  return oversized;
}

/** `runs` generated cases from `seed`: how many were sent and accepted, of which kinds, and the counterexample if any. */
async function generatedCases(port: number, runs: number, seed: number) {
  const kinds = new Map<string, number>();
  let sent = 0;
  let accepted = 0;
  const result = await fc.check(
    fc.asyncProperty(caseArbitrary, async (c) => {
      sent++;
      kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      const answer = await rawRequest(port, await requestOf(port, c));
      if (typeof answer.status === 'number' && answer.status < 300) accepted++;
      return acceptable(answer, c);
    }),
    { numRuns: runs, seed, endOnFailure: false },
  );
  const problems = result.failed ? [`seed ${seed}: counterexample ${fc.stringify(result.counterexample).slice(0, 300)}`] : [];
  return { sent, accepted, kinds, problems };
}

/**
 * Large bodies in flight together, past INGEST_MAX_INFLIGHT_BYTES: 503 with Retry-After for those that do not fit,
 * 4xx for the rest once read, the budget given back. `count` batches made from the seed after the cases' one.
 */
async function largeBatches(port: number, seed: number, count: number) {
  const batches = fc.sample(largeBatchArbitrary, { seed: seed + 1, numRuns: count });
  let large = 0;
  let busy = 0;
  const problems: string[] = [];
  for (const batch of batches) {
    const { answers, problems: batchProblems } = await sendLargeBatch(port, batch);
    large += answers.length;
    busy += answers.filter((a) => a.status === 503).length;
    problems.push(...batchProblems.map((p) => `seed ${seed}: ${p}`));
  }
  return { large, busy, problems };
}

/**
 * Thousands of generated hostile requests at ingest (fast-check; the seed is printed so a failure can be
 * replayed with FAULTS_SEED), slow clients dribbling bytes and bodies over GitHub's 25 MB cap alongside, then
 * batches of large bodies held in flight together past INGEST_MAX_INFLIGHT_BYTES: every answer a 4xx, a 503
 * with Retry-After for bodies over the in-flight bound, or a harmless `ignored` (signed deliveries from accounts
 * outside ALLOWED_ACCOUNTS among them); ingest alive, its memory bounded, and no job stored.
 */
export const hostileInput: Scenario = {
  name: 'hostile-input',
  async run({ stack, ingest, full }): Promise<Outcome> {
    const port = ingest.port;
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 2_147_483_647);
    await sendControl(port);
    const jobsBefore = await webhookJobs(stack.redisUrl);
    const memoryBefore = await residentMb(ingest);

    // The slow clients dribble on while the oversized bodies and the generated cases run.
    const slow = slowClients(port, full ? 20 : 8);
    const oversized = await oversizedBodies(port, full ? 5 : 2);
    const cases = await generatedCases(port, full ? 5_000 : 1_500, seed);
    const problems = [...cases.problems];
    const slowAnswers = await slow;
    const badSlow = slowAnswers.filter((a) => !acceptable(a));
    if (badSlow.length > 0) problems.push(`${badSlow.length} slow clients got ${JSON.stringify(badSlow[0]!.status)}`);
    const badOversized = oversized.filter((a) => a.status !== 413);
    if (badOversized.length > 0) problems.push(`oversized bodies answered ${badOversized.map((a) => a.status).join(', ')}`);
    const { large, busy, problems: largeProblems } = await largeBatches(port, seed, full ? 8 : 3);
    problems.push(...largeProblems);

    const alive = ingest.process.exitCode === null && ingest.process.signalCode === null;
    if (!alive) problems.push('ingest exited');
    const memoryAfter = alive ? await residentMb(ingest) : NaN;
    if (!(memoryAfter - memoryBefore <= MEMORY_BOUND_MB)) problems.push(`ingest memory grew ${memoryBefore} → ${memoryAfter} MB`);
    const jobsAfter = await webhookJobs(stack.redisUrl);
    if (jobsAfter !== jobsBefore) problems.push(`${jobsAfter - jobsBefore} jobs enqueued`);

    const pass = problems.length === 0;
    return {
      scenario: `hostile input, ${cases.sent} generated, ${slowAnswers.length} slow, ${oversized.length} oversized, ${large} large`,
      sent: cases.sent + slowAnswers.length + oversized.length + large,
      accepted: cases.accepted,
      applied: jobsAfter - jobsBefore,
      lost: 0,
      pass,
      detail: pass
        ? `seed ${seed}; ${[...cases.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}; ${busy} of ${large} large bodies in flight answered 503 + Retry-After (INGEST_MAX_INFLIGHT_BYTES ${INGEST_INFLIGHT_LIMIT}); ingest memory ${memoryBefore} → ${memoryAfter} MB; no job stored`
        : problems.join('; '),
    };
  },
};
