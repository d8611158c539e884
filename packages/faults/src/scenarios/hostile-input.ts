import { createHmac, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Queue } from 'bullmq';
import { HANDLED_EVENTS, QUEUES } from '@ephemera/schema';
import { pullRequestPayload, webhookExample } from '@ephemera/testkit';
import type { Outcome } from '../check.js';
import { httpPost, httpPostChunked, rawRequest, type Answer } from '../hostile-requests.js';
import { ALLOWED_ACCOUNT, INGEST_INFLIGHT_LIMIT, SECRET, residentMb, sleep } from '../stack.js';
import type { Scenario } from './context.js';

/**
 * Growth of ingest's resident memory over the whole scenario that still counts as bounded. 26 MB bodies and
 * 200,000-deep documents pass through it, and V8 keeps some of the heap it grew for them; a leak per request
 * would pass this within the first few thousand cases.
 */
const MEMORY_BOUND_MB = 150;

const REAL = Buffer.from(JSON.stringify(pullRequestPayload({ action: 'synchronize', number: 900_000, headSha: 'a'.repeat(40), updatedAt: '2026-01-01T00:00:00Z' })));

type Signing = 'none' | 'valid' | 'wrong-secret' | 'other-body' | 'sha1-only' | 'garbage';

/** One hostile request: what is sent, and whether this particular request is signed with the real secret. */
type Case =
  | { kind: 'random-body'; body: Uint8Array; sign: Signing; event: string; deliveryId: string; contentType: string }
  | { kind: 'truncated-payload'; cut: number }
  | { kind: 'flipped-payload'; flips: Array<{ at: number; byte: number }>; sign: Exclude<Signing, 'valid'> }
  | { kind: 'invalid-utf8'; bad: readonly number[]; at: number }
  | { kind: 'deep-json'; depth: number; shape: 'array' | 'object' }
  | { kind: 'bad-header'; name: string; value: Buffer }
  | { kind: 'garbage-request'; head: Uint8Array }
  | { kind: 'other-account'; login: string; event: AccountEvent; action: number };

type AccountEvent = 'pull_request' | 'installation' | 'installation_repositories';

const signing = fc.constantFrom<Signing>('none', 'valid', 'wrong-secret', 'other-body', 'sha1-only', 'garbage');
const caseArbitrary: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    kind: fc.constant('random-body' as const),
    body: fc.uint8Array({ maxLength: 4096 }),
    sign: signing,
    event: fc.oneof(fc.constant('pull_request'), fc.string({ maxLength: 80 })),
    deliveryId: fc.oneof(fc.uuid(), fc.string({ maxLength: 60 })),
    contentType: fc.oneof(fc.constant('application/json'), fc.constant('application/x-www-form-urlencoded'), fc.string({ maxLength: 40 })),
  }),
  fc.record({ kind: fc.constant('truncated-payload' as const), cut: fc.nat({ max: REAL.length - 1 }) }),
  fc.record({
    kind: fc.constant('flipped-payload' as const),
    flips: fc.array(fc.record({ at: fc.nat({ max: REAL.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
    sign: fc.constantFrom('none', 'wrong-secret', 'other-body', 'sha1-only', 'garbage') as fc.Arbitrary<Exclude<Signing, 'valid'>>,
  }),
  fc.record({
    kind: fc.constant('invalid-utf8' as const),
    bad: fc.constantFrom([0xc3], [0xff], [0xfe, 0xfe], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf]),
    at: fc.nat({ max: 200 }),
  }),
  fc.record({
    kind: fc.constant('deep-json' as const),
    depth: fc.integer({ min: 100, max: 200_000 }),
    shape: fc.constantFrom('array' as const, 'object' as const),
  }),
  fc.record({
    kind: fc.constant('bad-header' as const),
    name: fc.constantFrom('X-GitHub-Event', 'X-GitHub-Delivery', 'X-Hub-Signature-256', 'X-Anything', 'Content-Type'),
    value: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 17_000, max: 120_000 }).map((n) => Buffer.alloc(n, 'a')),
    ),
  }),
  // Heads of nothing but CR and LF are left out: HTTP lets a server skip blank lines before a request line
  // (RFC 9112, 2.2), so ingest rightly waits for one and answers 408 only at its 30 s request timeout.
  fc.record({
    kind: fc.constant('garbage-request' as const),
    head: fc.uint8Array({ minLength: 1, maxLength: 2048 }).filter((h) => h.some((b) => b !== 0x0d && b !== 0x0a)),
  }),
  // Genuine, correctly signed deliveries from accounts outside ALLOWED_ACCOUNTS, look-alikes of the allowed one
  // among them: `ignored`, nothing stored.
  fc.record({
    kind: fc.constant('other-account' as const),
    login: fc
      .oneof(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,38}$/),
        fc.constantFrom(`${ALLOWED_ACCOUNT}-org`, `x${ALLOWED_ACCOUNT}`, `${ALLOWED_ACCOUNT.toLowerCase()}0`),
      )
      .filter((login) => login.toLowerCase() !== ALLOWED_ACCOUNT.toLowerCase()),
    event: fc.constantFrom<AccountEvent>('pull_request', 'installation', 'installation_repositories'),
    action: fc.nat(),
  }),
);

/** A large body held in flight: how big, how it is framed, and how it is (wrongly) signed. */
interface LargeBody {
  size: number;
  framing: 'content-length' | 'chunked';
  sign: Exclude<Signing, 'valid'>;
  fill: 'padded-payload' | 'spaces' | 'bytes';
  offset: number;
}

/** Signings that pass the header checks, so the body is read and counts against the in-flight budget. */
const READ_SIGNINGS: ReadonlySet<Signing> = new Set(['wrong-secret', 'other-body', 'garbage']);

/**
 * Batches of large bodies sent together and held mid-body. The bodies that ingest must read (framed with
 * Content-Length, with a signature header) add up to more than INGEST_MAX_INFLIGHT_BYTES, so some must be refused.
 */
const largeBatchArbitrary: fc.Arbitrary<LargeBody[]> = fc
  .array(
    fc.record({
      size: fc.integer({ min: 256 * 1024, max: 1536 * 1024 }),
      framing: fc.constantFrom('content-length' as const, 'chunked' as const),
      sign: fc.constantFrom('none', 'wrong-secret', 'other-body', 'sha1-only', 'garbage') as fc.Arbitrary<Exclude<Signing, 'valid'>>,
      fill: fc.constantFrom('padded-payload' as const, 'spaces' as const, 'bytes' as const),
      offset: fc.integer({ min: 0, max: 255 }),
    }),
    { minLength: 8, maxLength: 14 },
  )
  .filter(
    (batch) =>
      batch.filter((b) => b.framing === 'content-length' && READ_SIGNINGS.has(b.sign)).reduce((n, b) => n + b.size, 0) >
      INGEST_INFLIGHT_LIMIT,
  );

function largeBodyOf(b: LargeBody): Buffer {
  switch (b.fill) {
    case 'padded-payload': {
      // The genuine delivery with a padding field: well-formed JSON a valid signature would have let in.
      const head = REAL.subarray(0, REAL.length - 1);
      const pad = Math.max(0, b.size - REAL.length - 14);
      return Buffer.concat([head, Buffer.from(',"padding":"'), Buffer.alloc(pad, 'x'), Buffer.from('"}')]);
    }
    case 'spaces':
      return Buffer.alloc(b.size, 0x20);
    case 'bytes': {
      const body = Buffer.alloc(b.size);
      for (let i = 0; i < body.length; i++) body[i] = (i + b.offset) & 0xff;
      return body;
    }
  }
}

/** A large body's request, and where to hold it: after the head and some of the body. */
function largeRequestOf(port: number, b: LargeBody): { bytes: Buffer; pauseAt: number } {
  const body = largeBodyOf(b);
  const headers = { ...goodHeaders(), ...signature(b.sign, body) };
  if (b.framing === 'chunked') {
    const { bytes, firstChunkEnd } = httpPostChunked(port, headers, body, 64 * 1024);
    return { bytes, pauseAt: firstChunkEnd };
  }
  const bytes = httpPost(port, headers, body);
  return { bytes, pauseAt: bytes.length - body.length + 64 * 1024 };
}

/** What a large unverified body may get: 503 with Retry-After (the budget is taken), or a 4xx; never a 2xx. */
function acceptableLarge(answer: Answer): boolean {
  if (answer.status === 503) return /^\d+$/.test(answer.headers['retry-after'] ?? '') && /"error":"server_busy"/.test(answer.body);
  return typeof answer.status === 'number' && answer.status >= 400 && answer.status < 500 && /"error"/.test(answer.body);
}

/** One of ingest's own metrics (its /metrics): the body bytes it holds, the requests it refused for them. */
async function ingestMetric(port: number, name: 'ingest_inflight_body_bytes' | 'ingest_inflight_limit_refusals_total'): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Polls `read` until `done` holds of its value or `ms` have passed; the last value read. */
async function pollUntil(read: () => Promise<number>, done: (n: number) => boolean, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(25);
    value = await read();
  }
  return value;
}

/**
 * One batch: every request sent up to its pause point at once and held there until ingest has refused one for
 * the in-flight bound (it must: the batch is made to exceed it), then all completed. A refused request is
 * answered once its body has been read off, so that it is seen even on a connection the sender closes.
 */
async function sendLargeBatch(port: number, batch: LargeBody[]): Promise<{ answers: Answer[]; problems: string[] }> {
  const problems: string[] = [];
  const refusalsBefore = await ingestMetric(port, 'ingest_inflight_limit_refusals_total');
  let resume!: () => void;
  const resumed = new Promise<void>((r) => (resume = r));
  const pending = batch.map((b) => {
    const { bytes, pauseAt } = largeRequestOf(port, b);
    return rawRequest(port, bytes, { pauseAt, resume: resumed });
  });
  const refusals = await pollUntil(() => ingestMetric(port, 'ingest_inflight_limit_refusals_total'), (n) => n > refusalsBefore, 15_000);
  if (!(refusals > refusalsBefore)) {
    problems.push(`a batch of ${batch.length} large bodies held in flight was not refused: the in-flight bound was not reached`);
  }
  resume();
  const answers = await Promise.all(pending);
  const bad = answers.flatMap((a, i) => (acceptableLarge(a) ? [] : [{ a, b: batch[i]! }]));
  if (bad.length > 0) {
    const { a, b } = bad[0]!;
    problems.push(
      `${bad.length} large bodies answered ${bad.map((x) => x.a.status).join(', ')} (first: ${b.size} bytes, ${b.framing}, ${b.sign}, ${b.fill}: ${a.status} ${a.body.slice(0, 120)})`,
    );
  }
  if (!answers.some((a) => a.status === 503)) problems.push('no large body was answered 503');
  // Every byte counted is given back once the requests are answered.
  const held = await pollUntil(() => ingestMetric(port, 'ingest_inflight_body_bytes'), (n) => n === 0, 10_000);
  if (held !== 0) problems.push(`ingest still counts ${held} bytes in flight after the batch was answered`);
  return { answers, problems };
}

function signature(sign: Signing, body: Buffer): Record<string, string> {
  switch (sign) {
    case 'none':
      return {};
    case 'valid':
      return { 'X-Hub-Signature-256': hmac(SECRET, body) };
    case 'wrong-secret':
      return { 'X-Hub-Signature-256': hmac('not-the-secret', body) };
    case 'other-body':
      return { 'X-Hub-Signature-256': hmac(SECRET, Buffer.concat([body, Buffer.from(' ')])) };
    case 'sha1-only':
      return { 'X-Hub-Signature': 'sha1=0123456789abcdef0123456789abcdef01234567' };
    case 'garbage':
      return { 'X-Hub-Signature-256': 'sha256=zz' };
  }
}

/** HMAC over the raw bytes, as GitHub computes it (the test kit's helper signs strings). */
function hmac(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const goodHeaders = (deliveryId = randomUUID()) => ({
  'Content-Type': 'application/json',
  'X-GitHub-Event': 'pull_request',
  'X-GitHub-Delivery': deliveryId,
});

/** The bytes of a case's request. */
async function requestOf(port: number, c: Case): Promise<Buffer> {
  switch (c.kind) {
    case 'random-body': {
      const body = Buffer.from(c.body);
      return httpPost(port, { 'Content-Type': c.contentType, 'X-GitHub-Event': c.event, 'X-GitHub-Delivery': c.deliveryId, ...(signature(c.sign, body)) }, body);
    }
    case 'truncated-payload': {
      const body = REAL.subarray(0, c.cut);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'flipped-payload': {
      const body = Buffer.from(REAL);
      for (const f of c.flips) body[f.at] = f.byte;
      return httpPost(port, { ...goodHeaders(), ...(signature(c.sign, body)) }, body);
    }
    case 'invalid-utf8': {
      // Inside the title string, so the JSON stays well-formed apart from the encoding.
      const at = REAL.indexOf('"title":"') + 9 + Math.min(c.at, 3);
      const body = Buffer.concat([REAL.subarray(0, at), Buffer.from(c.bad), REAL.subarray(at)]);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'deep-json': {
      const text =
        c.shape === 'array'
          ? '['.repeat(c.depth) + ']'.repeat(c.depth)
          : `{"action":"opened","nested":${'{"a":'.repeat(c.depth)}1${'}'.repeat(c.depth)}}`;
      const body = Buffer.from(text);
      return httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body);
    }
    case 'bad-header': {
      // Signed with the wrong secret, so that even a header the server can read leaves nothing acceptable.
      const body = REAL;
      return httpPost(port, { ...goodHeaders(), ...(signature('wrong-secret', body)), [c.name]: c.value }, body);
    }
    case 'garbage-request':
      return Buffer.concat([Buffer.from(c.head), Buffer.from('\r\n\r\n')]);
    case 'other-account': {
      const body = Buffer.from(JSON.stringify(otherAccountPayload(c)));
      return httpPost(port, { ...goodHeaders(), 'X-GitHub-Event': c.event, ...signature('valid', body) }, body);
    }
  }
}

/** A handled event of the case's kind, belonging to the case's account. */
function otherAccountPayload(c: Extract<Case, { kind: 'other-account' }>): unknown {
  const actions = HANDLED_EVENTS[c.event];
  const action = actions[c.action % actions.length]!;
  if (c.event === 'pull_request') return pullRequestPayload({ action, number: 910_000 + (c.action % 1000), repository: `${c.login}/repo` });
  const p = structuredClone(webhookExample(c.event, action)) as { installation: { account: { login: string } } };
  p.installation.account.login = c.login;
  return p;
}

/** The status codes a case must get where its kind decides it. */
function expectedStatuses(c: Case): number[] | undefined {
  switch (c.kind) {
    case 'truncated-payload':
    case 'deep-json':
    case 'garbage-request':
    case 'invalid-utf8':
      return [400];
    case 'flipped-payload':
      // 400 when a flip left the body invalid UTF-8 (refused before the signature is checked), 401 otherwise.
      return [400, 401];
    case 'bad-header':
      return c.value.length > 16 * 1024 ? [431] : undefined;
    case 'random-body':
      return undefined;
    case 'other-account':
      return [202];
  }
}

/** An answer a hostile request may get: a 4xx with a JSON error, or a 2xx that stored nothing (`ignored`). */
function acceptable(answer: Answer, c?: Case): boolean {
  if (typeof answer.status !== 'number') return false;
  const expected = c && expectedStatuses(c);
  if (expected && !expected.includes(answer.status)) return false;
  if (answer.status >= 400 && answer.status < 500) return /"error"/.test(answer.body);
  if (answer.status >= 200 && answer.status < 300) {
    return c?.kind === 'other-account' ? /"status":"ignored"/.test(answer.body) : /"status":"(ignored|pong)"/.test(answer.body);
  }
  return false;
}

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
    const runs = full ? 5_000 : 1_500;
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 2_147_483_647);
    // A control first: the genuine delivery the cases are made from, sent the same way, must be queued —
    // otherwise every refusal below could be the harness's fault rather than ingest's judgement.
    const control = await rawRequest(port, httpPost(port, { ...goodHeaders(), ...signature('valid', REAL) }, REAL));
    if (control.status !== 202 || !control.body.includes('"queued"')) {
      throw new Error(`the genuine control delivery was answered ${control.status} ${control.body}`);
    }
    const jobsBefore = await webhookJobs(stack.redisUrl);
    const memoryBefore = await residentMb(ingest);
    const kinds = new Map<string, number>();
    const problems: string[] = [];

    // Slow clients: a whole request, 16 bytes every 20 ms, several at once, while the generated cases run.
    const slow = Promise.all(
      Array.from({ length: full ? 20 : 8 }, async () => {
        const body = REAL.subarray(0, 2_000);
        return rawRequest(port, httpPost(port, { ...goodHeaders(), ...(signature('wrong-secret', body)) }, body), { chunkDelayMs: 20 });
      }),
    );
    // Bodies over the cap, sent whole.
    const oversized: Answer[] = [];
    for (let i = 0; i < (full ? 5 : 2); i++) {
      const body = Buffer.alloc(26 * 1024 * 1024, 0x20);
      oversized.push(await rawRequest(port, httpPost(port, { ...goodHeaders(), ...(signature('valid', body)) }, body)));
    }

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
    if (result.failed) {
      problems.push(`seed ${seed}: counterexample ${fc.stringify(result.counterexample).slice(0, 300)}`);
    }
    const slowAnswers = await slow;
    const badSlow = slowAnswers.filter((a) => !acceptable(a));
    if (badSlow.length > 0) problems.push(`${badSlow.length} slow clients got ${JSON.stringify(badSlow[0]!.status)}`);
    const badOversized = oversized.filter((a) => a.status !== 413);
    if (badOversized.length > 0) problems.push(`oversized bodies answered ${badOversized.map((a) => a.status).join(', ')}`);

    // Large bodies in flight together, past INGEST_MAX_INFLIGHT_BYTES: 503 with Retry-After for those that do
    // not fit, 4xx for the rest once read, the budget given back. Made from the same seed.
    const batches = fc.sample(largeBatchArbitrary, { seed: seed + 1, numRuns: full ? 8 : 3 });
    let large = 0;
    let busy = 0;
    for (const batch of batches) {
      const { answers, problems: batchProblems } = await sendLargeBatch(port, batch);
      large += answers.length;
      busy += answers.filter((a) => a.status === 503).length;
      problems.push(...batchProblems.map((p) => `seed ${seed}: ${p}`));
    }

    const alive = ingest.process.exitCode === null && ingest.process.signalCode === null;
    if (!alive) problems.push('ingest exited');
    const memoryAfter = alive ? await residentMb(ingest) : NaN;
    if (!(memoryAfter - memoryBefore <= MEMORY_BOUND_MB)) problems.push(`ingest memory grew ${memoryBefore} → ${memoryAfter} MB`);
    const jobsAfter = await webhookJobs(stack.redisUrl);
    if (jobsAfter !== jobsBefore) problems.push(`${jobsAfter - jobsBefore} jobs enqueued`);

    const total = sent + slowAnswers.length + oversized.length + large;
    const pass = problems.length === 0;
    return {
      scenario: `hostile input, ${sent} generated, ${slowAnswers.length} slow, ${oversized.length} oversized, ${large} large`,
      sent: total,
      accepted,
      applied: jobsAfter - jobsBefore,
      lost: 0,
      pass,
      detail: pass
        ? `seed ${seed}; ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}; ${busy} of ${large} large bodies in flight answered 503 + Retry-After (INGEST_MAX_INFLIGHT_BYTES ${INGEST_INFLIGHT_LIMIT}); ingest memory ${memoryBefore} → ${memoryAfter} MB; no job stored`
        : problems.join('; '),
    };
  },
};
