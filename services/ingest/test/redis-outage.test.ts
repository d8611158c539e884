import net from 'node:net';
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

/**
 * A TCP proxy in front of Redis that takes Redis away just as BullMQ checks the server at start: it drops the first
 * connection when the client sends its second INFO (the first is ioredis' ready check, the second BullMQ's check)
 * and refuses connections for a second, as a Redis restarting would. Then it passes everything.
 */
async function infoDroppingProxy(target: number): Promise<{ url: string; dropped: () => number; close(): Promise<void> }> {
  let dropped = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let infos = 0;
    client.on('data', (chunk: Buffer) => {
      infos += chunk.toString().toLowerCase().split('$4\r\ninfo\r\n').length - 1;
      if (dropped === 0 && infos >= 2) {
        dropped++;
        server.close();
        setTimeout(() => server.listen(port, '127.0.0.1'), 1_000);
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) s.on('error', () => undefined).on('close', () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    dropped: () => dropped,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('when Redis goes away while the queue checks it at start', () => {
  it('makes the queue again instead of refusing every delivery for good', async () => {
    const redis = await startScratchRedis();
    const proxy = await infoDroppingProxy(redis.port);
    const sut = buildIngest({ url: proxy.url, timeoutMs: 1_500 });
    try {
      await expect(sut.queue.queue.waitUntilReady()).rejects.toThrow();
      expect(proxy.dropped()).toBe(1);
      const failedQueue = sut.queue.queue;
      const d = await signedDelivery(SECRET, 'pull_request', webhookExample('pull_request', 'opened', { withInstallation: true }));
      // The round that finds the failed queue is refused (nothing was stored) and replaces it...
      const first = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(first.status).toBe(503);
      expect(sut.queue.queue).not.toBe(failedQueue);
      // ...and the redelivery is queued on the new one.
      const again = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(again.status).toBe(202);
      expect(again.body.status).toBe('queued');
      expect(await sut.queue.queue.getJob(d.deliveryId)).toBeDefined();
    } finally {
      await sut.close();
      await proxy.close();
      await redis.destroy();
    }
  }, 30_000);
});
