import fc from 'fast-check';
import { httpPost, httpPostChunked, rawRequest, type Answer } from '../../hostile-requests.js';
import { INGEST_INFLIGHT_LIMIT } from '../../service-env.js';
import { sleep } from '../../stack.js';
import { REAL, goodHeaders, signature, type Signing } from './signing.js';

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
export const largeBatchArbitrary: fc.Arbitrary<LargeBody[]> = fc
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
export async function sendLargeBatch(port: number, batch: LargeBody[]): Promise<{ answers: Answer[]; problems: string[] }> {
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
