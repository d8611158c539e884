import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import request from 'supertest';
import { createRedis } from '@ephemera/runtime';
import { QUEUES, WEBHOOK_JOB_OPTIONS, type PullRequestJob } from '@ephemera/schema';
import { pullRequestPayload, signedDelivery, type SignedDelivery } from '@ephemera/testkit';
import { WEBHOOK_PATH } from '../src/app.js';
import { SECRET, buildIngest, redisUrl } from './support.js';

// One ingest on real Redis, under a prefix of its own; each test runs a BullMQ worker on that prefix that does to
// its delivery what the test needs (fail for good, complete, fail an attempt and retry, hold it active).
const sut = buildIngest();
const connection = createRedis(redisUrl(), 'worker');
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.close(true);
  worker = undefined;
  await sut.queue.queue.obliterate({ force: true });
});
afterAll(async () => {
  await sut.close();
  await connection.quit();
});

const sha = (n: number) => n.toString(16).padStart(40, '0');
let nextPr = 1;
function delivery(options: { deliveryId?: string; headSha?: string } = {}): Promise<SignedDelivery> {
  const number = nextPr++;
  const payload = pullRequestPayload({ action: 'synchronize', number, headSha: options.headSha ?? sha(number), updatedAt: '2026-01-01T00:00:00Z' });
  return signedDelivery(SECRET, 'pull_request', payload, options.deliveryId ? { deliveryId: options.deliveryId } : {});
}

function post(d: SignedDelivery) {
  return request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
}

/** A worker on the test's queue doing `work` to every job it takes. */
function startWorker(work: (job: Job) => Promise<unknown>, concurrency = 1): Worker {
  worker = new Worker(QUEUES.webhooks, work, { connection, prefix: sut.prefix, autorun: true, concurrency });
  worker.on('error', () => undefined);
  return worker;
}

async function stateOf(id: string): Promise<string> {
  return (await sut.queue.queue.getJob(id))?.getState() ?? 'missing';
}

async function waitForState(id: string, state: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await stateOf(id)) !== state) {
    if (Date.now() > deadline) throw new Error(`job ${id} is ${await stateOf(id)}, not ${state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a redelivery of a delivery whose job failed for good', () => {
  it('is queued again: the failed job is replaced by a fresh one with the same id and the new payload', async () => {
    const first = await delivery();
    const id = first.deliveryId;
    expect((await post(first)).body.status).toBe('queued');
    const w = startWorker(async () => {
      throw new UnrecoverableError('the database said no');
    });
    await waitForState(id, 'failed');
    await w.close();
    const failed = await sut.queue.queue.getJob(id);
    expect(failed!.failedReason).toBe('the database said no');

    // The same delivery id, as GitHub redelivers it (the payload here differs, to show whose job it is now).
    const again = await delivery({ deliveryId: id, headSha: 'f'.repeat(40) });
    const res = await post(again);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: id, status: 'queued' });

    const job = await sut.queue.queue.getJob(id);
    expect(await job!.getState()).toBe('waiting');
    expect(job!.attemptsMade).toBe(0);
    expect(job!.failedReason).toBeFalsy();
    expect((job!.data as PullRequestJob).pullRequest.headSha).toBe('f'.repeat(40));
    expect(await sut.queue.queue.getJobCounts('failed', 'waiting')).toEqual({ failed: 0, waiting: 1 });

    // Deduplicated again like any stored delivery: a further copy is a duplicate while the new job waits.
    const third = await post(again);
    expect(third.body).toEqual({ delivery_id: id, status: 'duplicate' });
    expect(await sut.queue.queue.getJobCounts('failed', 'waiting')).toEqual({ failed: 0, waiting: 1 });

    // Logged and counted as requeued.
    const lines = sut.logLines.filter((l) => l.delivery_id === id);
    expect(lines.map((l) => l.outcome)).toEqual(['queued', 'requeued', 'duplicate']);
    const metrics = (await request(sut.app).get('/metrics')).text;
    expect(metrics).toMatch(/^ingest_webhook_deliveries_total\{event="pull_request",outcome="requeued"\} 1$/m);

    // The fresh job runs and completes like any other.
    const done = startWorker(async () => 'applied');
    await waitForState(id, 'completed');
    await done.close();
    expect((await post(again)).body.status).toBe('duplicate');
  });

  it('gives one queued and the rest duplicate for concurrent copies, and stores one job', async () => {
    const d = await delivery();
    await post(d);
    const w = startWorker(async () => {
      throw new UnrecoverableError('no');
    });
    await waitForState(d.deliveryId, 'failed');
    await w.close();
    const results = await Promise.all(Array.from({ length: 20 }, () => post(d)));
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(results.filter((r) => r.body.status === 'queued')).toHaveLength(1);
    expect(results.filter((r) => r.body.status === 'duplicate')).toHaveLength(19);
    expect(await stateOf(d.deliveryId)).toBe('waiting');
    expect(await sut.jobCount()).toBe(1);
  });
});

describe('a redelivery of a delivery whose job did not fail for good stays duplicate', () => {
  it('completed', async () => {
    const d = await delivery();
    await post(d);
    startWorker(async () => 'applied');
    await waitForState(d.deliveryId, 'completed');
    const res = await post(d);
    expect(res.body).toEqual({ delivery_id: d.deliveryId, status: 'duplicate' });
    expect(await stateOf(d.deliveryId)).toBe('completed');
    expect(await sut.jobCount()).toBe(1);
  });

  it('delayed: a failed attempt waiting for its retry', async () => {
    const d = await delivery();
    await post(d);
    startWorker(async () => {
      throw new Error('try again');
    });
    await waitForState(d.deliveryId, 'delayed');
    await worker!.close(true);
    const res = await post(d);
    expect(res.body).toEqual({ delivery_id: d.deliveryId, status: 'duplicate' });
    const job = await sut.queue.queue.getJob(d.deliveryId);
    expect(await job!.getState()).toBe('delayed');
    expect(job!.attemptsMade).toBe(1);
  });

  it('active', async () => {
    const d = await delivery();
    await post(d);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    startWorker(() => held);
    await waitForState(d.deliveryId, 'active');
    const res = await post(d);
    expect(res.body).toEqual({ delivery_id: d.deliveryId, status: 'duplicate' });
    expect(await stateOf(d.deliveryId)).toBe('active');
    release();
    await waitForState(d.deliveryId, 'completed');
  });

  it('waiting', async () => {
    const d = await delivery();
    await post(d);
    const res = await post(d);
    expect(res.body).toEqual({ delivery_id: d.deliveryId, status: 'duplicate' });
    expect(await stateOf(d.deliveryId)).toBe('waiting');
    expect(await sut.jobCount()).toBe(1);
  });

  // A failed job outlives its deduplication key by age (removeOnFail's age is longer than the key's time to live),
  // so retention can leave the key alone only by count: as many later jobs failed as removeOnFail keeps.
  it('failed, then trimmed by retention: the deduplication key alone is remembered', async () => {
    const d = await delivery();
    const id = d.deliveryId;
    await post(d);
    const keep = WEBHOOK_JOB_OPTIONS.removeOnFail.count;
    let failures = 0;
    const waiting: Array<[number, () => void]> = [];
    const failed = (n: number) => new Promise<void>((resolve) => (failures >= n ? resolve() : waiting.push([n, resolve])));
    const w = startWorker(async () => {
      throw new UnrecoverableError('no');
    }, 200);
    w.on('failed', () => {
      failures++;
      for (const [n, resolve] of waiting) if (failures >= n) resolve();
    });
    await waitForState(id, 'failed');

    // Other deliveries fail until the failed set holds as many jobs as retention keeps, this one the oldest...
    const others = keep - 1;
    for (let i = 0; i < others; i += 5_000) {
      const n = Math.min(5_000, others - i);
      await sut.queue.queue.addBulk(
        Array.from({ length: n }, (_, k) => ({ name: 'pull_request.synchronize', data: { n: i + k }, opts: { ...WEBHOOK_JOB_OPTIONS, jobId: `other-${i + k}` } })),
      );
    }
    await failed(keep);
    expect(await stateOf(id)).toBe('failed');

    // ...and one more, stored by ingest with its options, pushes it out.
    await post(await delivery());
    await failed(keep + 1);
    await w.close();
    expect(await sut.queue.queue.getJob(id)).toBeUndefined();
    expect(await sut.queue.queue.getJobCounts('failed')).toEqual({ failed: keep });
    expect(await sut.redis.exists(`${sut.queue.queue.toKey('de')}:${id}`)).toBe(1);

    const res = await post(d);
    expect(res.body).toEqual({ delivery_id: id, status: 'duplicate' });
    expect(await sut.queue.queue.getJob(id)).toBeUndefined();
    expect(await sut.jobCount()).toBe(keep);
  }, 120_000);
});
