import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { signedDelivery, webhookExample } from '@ephemera/testkit';
import { RETRY_AFTER_SECONDS, WEBHOOK_PATH, createServer } from '../src/app.js';
import { SECRET, buildIngest } from './support.js';

// INGEST_MAX_INFLIGHT_BYTES: bodies being read or held count against one budget; past it, 503 with Retry-After
// before the body is read. Nothing here is timed: the tests wait for the budget to be taken (the gauge in
// /metrics), then check the answers.

const LIMIT = 300_000;
const sut = buildIngest({ maxInflightBytes: LIMIT });
const server = createServer(sut.app);
beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await sut.close();
});

const port = () => (server.address() as net.AddressInfo).port;

/** A genuine, signed pull_request delivery whose body is exactly `size` bytes (padded with a field of its own). */
async function deliveryOfSize(size: number) {
  const payload = { ...webhookExample('pull_request', 'opened', { withInstallation: true }), padding: '' };
  const bare = JSON.stringify(payload).length;
  if (bare > size) throw new Error(`a delivery is at least ${bare} bytes`);
  const body = JSON.stringify({ ...payload, padding: 'x'.repeat(size - bare) });
  const d = await signedDelivery(SECRET, 'pull_request', null, { body });
  if (Buffer.byteLength(d.body) !== size) throw new Error(`the padded delivery is ${Buffer.byteLength(d.body)} bytes, not ${size}`);
  return d;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A request sent in parts: the head and `first` bytes of the body at once, the rest when `finish()` is called.
 * `chunked` leaves Content-Length out, so the body is sent with Transfer-Encoding: chunked.
 */
function startSlow(headers: Record<string, string>, body: Buffer, first: number, options: { chunked?: boolean } = {}) {
  const req = http.request({
    host: '127.0.0.1',
    port: port(),
    method: 'POST',
    path: WEBHOOK_PATH,
    agent: false,
    headers: options.chunked ? headers : { ...headers, 'content-length': String(body.length) },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, first));
  return {
    answer,
    write: (bytes: Buffer) => new Promise<void>((resolve) => req.write(bytes, () => resolve())),
    finish: () => req.end(body.subarray(first)),
    abort: () => req.destroy(),
  };
}

async function metric(name: string): Promise<number> {
  const text = (await request(sut.app).get('/metrics')).text;
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
}

/** Waits until a metric of ingest's reads `value` (what was sent has been seen by the handler). */
async function waitForMetric(name: string, value: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let now = await metric(name);
  while (now !== value && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    now = await metric(name);
  }
  expect(`${name} ${now}`).toBe(`${name} ${value}`);
}

const waitForInflight = (bytes: number) => waitForMetric('ingest_inflight_body_bytes', bytes);
const waitForRefusals = (n: number) => waitForMetric('ingest_inflight_limit_refusals_total', n);

describe('INGEST_MAX_INFLIGHT_BYTES', () => {
  it('answers 503 with Retry-After once large slow bodies take the budget, stores nothing, and accepts again when they finish', async () => {
    const slowSize = 100_000;
    const slow = await Promise.all([1, 2, 3].map(() => deliveryOfSize(slowSize)));
    const jobsBefore = await sut.jobCount();
    const inFlight = slow.map((d) => startSlow(d.headers, Buffer.from(d.body), 1_000));
    await waitForInflight(3 * slowSize);

    // One more delivery, genuine and small, does not fit: refused as soon as its head is read, and its body,
    // read off to give the answer (which a sender closing the connection would not see otherwise), is not kept.
    const extra = await signedDelivery(SECRET, 'pull_request', webhookExample('pull_request', 'reopened', { withInstallation: true }));
    const refused = startSlow({ ...extra.headers, connection: 'close' }, Buffer.from(extra.body), 10);
    await waitForRefusals(1);
    expect(await metric('ingest_inflight_body_bytes')).toBe(3 * slowSize);
    refused.finish();
    const answer = await refused.answer;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).toEqual({ delivery_id: extra.deliveryId, error: 'server_busy', message: expect.any(String) });
    // So is one sent whole, through an ordinary client.
    const whole = await request(sut.app).post(WEBHOOK_PATH).set(extra.headers).send(extra.body);
    expect(whole.status).toBe(503);
    expect(whole.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(await sut.jobCount()).toBe(jobsBefore);

    // The slow ones finish: each is queued, the budget is given back, and the refused delivery is accepted.
    for (const s of inFlight) s.finish();
    const slowAnswers = await Promise.all(inFlight.map((s) => s.answer));
    expect(slowAnswers.map((a) => [a.status, a.body.status])).toEqual([
      [202, 'queued'],
      [202, 'queued'],
      [202, 'queued'],
    ]);
    await waitForInflight(0);
    const again = await request(sut.app).post(WEBHOOK_PATH).set(extra.headers).send(extra.body);
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ delivery_id: extra.deliveryId, status: 'queued' });
    expect(await sut.jobCount()).toBe(jobsBefore + 4);

    const metrics = (await request(sut.app).get('/metrics')).text;
    expect(metrics).toMatch(/^ingest_inflight_limit_refusals_total 2$/m);
    expect(metrics).toMatch(/^ingest_http_requests_total\{route="webhook",status="503"\} 2$/m);
    const busyLines = sut.logLines.filter((l) => l.delivery_id === extra.deliveryId && l.status === 503);
    expect(busyLines.map((l) => l.outcome)).toEqual(['busy', 'busy']);
  });

  it('counts a chunked body as its bytes arrive, and refuses it mid-body when it would go over', async () => {
    const holder = await deliveryOfSize(LIMIT - 50_000);
    const held = startSlow(holder.headers, Buffer.from(holder.body), 1_000);
    await waitForInflight(LIMIT - 50_000);

    const d = await deliveryOfSize(120_000);
    const body = Buffer.from(d.body);
    const chunked = startSlow(d.headers, body, 0, { chunked: true });
    await chunked.write(body.subarray(0, 40_000));
    await waitForInflight(LIMIT - 10_000);
    const refusals = await metric('ingest_inflight_limit_refusals_total');
    await chunked.write(body.subarray(40_000, 80_000));
    // Refused mid-body: what it had counted is given back at once, and the rest is read off without being kept.
    await waitForRefusals(refusals + 1);
    await waitForInflight(LIMIT - 50_000);
    chunked.finish();
    const answer = await chunked.answer;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(answer.body.error).toBe('server_busy');

    held.finish();
    expect((await held.answer).status).toBe(202);
    await waitForInflight(0);
    // Alone, the same chunked delivery fits and is queued.
    const alone = startSlow(d.headers, body, 0, { chunked: true });
    alone.finish();
    expect(await alone.answer).toMatchObject({ status: 202, body: { status: 'queued' } });
  });

  it('gives the budget back when a client goes away mid-body', async () => {
    const d = await deliveryOfSize(200_000);
    const s = startSlow(d.headers, Buffer.from(d.body), 5_000);
    s.answer.catch(() => undefined);
    await waitForInflight(200_000);
    s.abort();
    await waitForInflight(0);
  });

  it('reads a genuine delivery larger than the whole budget when nothing else is in flight', async () => {
    const d = await deliveryOfSize(LIMIT + 100_000);
    const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
  });

  it('answers a request refused from its headers once its body is read off, so a sender closing the connection sees it', async () => {
    const d = await deliveryOfSize(2_000_000);
    const { ['x-hub-signature-256']: _, ...unsigned } = d.headers;
    const failures = await metric('ingest_webhook_signature_failures_total');
    const s = startSlow({ ...unsigned, connection: 'close' }, Buffer.from(d.body), 100_000);
    await waitForMetric('ingest_webhook_signature_failures_total', failures + 1);
    expect(await metric('ingest_inflight_body_bytes')).toBe(0);
    s.finish();
    const answer = await s.answer;
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('missing_signature');
  });

  it('still answers 413 to a chunked body over 25 MB, without holding it, and gives the budget back', async () => {
    const d = await signedDelivery(SECRET, 'pull_request', null, { body: '{}' });
    const big = Buffer.alloc(26 * 1024 * 1024, 0x20);
    const s = startSlow(d.headers, big, 0, { chunked: true });
    s.finish();
    const answer = await s.answer;
    expect(answer.status).toBe(413);
    expect(answer.body.error).toBe('payload_too_large');
    await waitForInflight(0);
  });
});
