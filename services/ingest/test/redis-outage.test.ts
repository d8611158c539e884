import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { signedDelivery, startScratchRedis, webhookExample } from '@ephemera/testkit';
import { RETRY_AFTER_SECONDS, WEBHOOK_PATH } from '../src/app.js';
import { SECRET, buildIngest } from './support.js';

describe('when Redis is down', () => {
  let redis: Awaited<ReturnType<typeof startScratchRedis>>;
  let sut: ReturnType<typeof buildIngest>;

  beforeAll(async () => {
    redis = await startScratchRedis();
    sut = buildIngest({ url: redis.url, timeoutMs: 1_500 });
  });
  afterAll(async () => {
    await sut.close();
    await redis.destroy();
  });

  it('answers 503 with Retry-After (never 2xx), then accepts the same delivery once Redis is back', async () => {
    const d = await signedDelivery(SECRET, 'pull_request', webhookExample('pull_request', 'opened', { withInstallation: true }));
    await redis.stop();

    const started = Date.now();
    const refused = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(refused.body.error).toBe('queue_unavailable');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await request(sut.app).get('/readyz')).status).toBe(503);

    await redis.start();
    // ioredis reconnects on its own (backing off up to 2 s between tries); readiness says when.
    const deadline = Date.now() + 20_000;
    while ((await request(sut.app).get('/readyz')).status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await request(sut.app).get('/readyz')).status).toBe(200);
    // Redelivered as an operator would after a 503: while the queue connection finishes recovering, a
    // redelivery may still be refused (503, never a 2xx without the job); within seconds it is accepted.
    let accepted = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    const until = Date.now() + 15_000;
    while (accepted.status === 503 && Date.now() < until) {
      process.stderr.write(`redelivery refused while recovering: ${sut.rawLog.filter((l) => l.includes('could not store')).at(-1) ?? ''}\n`);
      await new Promise((r) => setTimeout(r, 500));
      accepted = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
    }
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('queued');
    expect(await sut.queue.queue.getJob(d.deliveryId)).toBeDefined();
    expect(await sut.jobCount()).toBe(1);
  }, 60_000);
});
