import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { settledDeliveries } from '@ephemera/runtime';
import { DELIVERY_DEDUP_TTL_SECONDS } from '@ephemera/schema';
import { pullRequestPayload, signedDelivery, webhookExample } from '@ephemera/testkit';
import { WEBHOOK_PATH } from '../src/app.js';
import { SECRET, buildIngest } from './support.js';

// A delivery ingest answers without a job although it is of an event Ephemera acts on (an account outside
// ALLOWED_ACCOUNTS, or a payload refused with 400 once its signature held) is settled, not lost: it is recorded
// where the worker's redelivery pass looks, so GitHub is never asked for it again. Nothing else is recorded, and
// nothing at all for a request whose signature does not hold.

const sut = buildIngest({ allowedAccounts: ['Codertocat'] });
afterAll(() => sut.close());

async function send(event: string, payload: unknown, options: { secret?: string; body?: string } = {}) {
  const d = await signedDelivery(options.secret ?? SECRET, event, payload, options.body !== undefined ? { body: options.body } : {});
  const res = await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
  return { res, id: d.deliveryId };
}
const settled = async (id: string) => (await settledDeliveries(sut.redis, sut.prefix, [id])).has(id);

describe('deliveries settled without a job', () => {
  it('records one answered `ignored` for an account outside ALLOWED_ACCOUNTS, for as long as delivery ids are remembered', async () => {
    const { res, id } = await send('pull_request', pullRequestPayload({ action: 'labeled', label: 'wip', repository: 'stranger/app' }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ delivery_id: id, status: 'ignored' });
    expect(await settled(id)).toBe(true);
    expect(await sut.jobCount()).toBe(0);
    const ttl = await sut.redis.ttl(`${sut.prefix}:settled-deliveries:${id}`);
    expect(ttl).toBeGreaterThan(DELIVERY_DEDUP_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(DELIVERY_DEDUP_TTL_SECONDS);
  });

  it.each([
    ['a body that is not JSON', 'invalid_json', { body: '{"action":' }],
    ['a JSON array', 'invalid_json', { body: '[]' }],
    ['a handled event without what the worker needs', 'invalid_payload', {}],
  ])('records one refused with 400 once its signature held: %s', async (_case, error, options) => {
    const { res, id } = await send('pull_request', { action: 'opened', number: 1 }, options);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ delivery_id: id, error });
    expect(await settled(id)).toBe(true);
  });

  it('records nothing for a delivery queued, or one of an event Ephemera does not act on (the pass never asks for those)', async () => {
    const queued = await send('pull_request', pullRequestPayload({ action: 'opened' }));
    expect(queued.res.body.status).toBe('queued');
    const unhandled = await send('issues', webhookExample('issues', 'opened'));
    expect(unhandled.res.body.status).toBe('ignored');
    expect(await settledDeliveries(sut.redis, sut.prefix, [queued.id, unhandled.id])).toEqual(new Set());
  });

  it('records nothing for a request whose signature does not hold: no one can settle a delivery id by guessing it', async () => {
    const forged = await send('pull_request', { action: 'opened' }, { secret: 'not-the-secret', body: '{"action":' });
    expect(forged.res.status).toBe(401);
    // Refused before its signature is checked: an empty body.
    const d = await signedDelivery(SECRET, 'pull_request', pullRequestPayload({ action: 'opened' }));
    const empty = { res: await request(sut.app).post(WEBHOOK_PATH).set(d.headers).send(''), id: d.deliveryId };
    expect(empty.res.status).toBe(400);
    expect(empty.res.body.error).toBe('empty_body');
    expect(await settledDeliveries(sut.redis, sut.prefix, [forged.id, empty.id])).toEqual(new Set());
  });

  it('answers as ever when the record cannot be written (Redis gone), saying so in the log', async () => {
    const away = buildIngest({ allowedAccounts: ['Codertocat'], timeoutMs: 300 });
    try {
      await away.queue.queue.waitUntilReady();
      away.redis.disconnect();
      const d = await signedDelivery(SECRET, 'pull_request', pullRequestPayload({ action: 'opened', repository: 'stranger/app' }));
      const res = await request(away.app).post(WEBHOOK_PATH).set(d.headers).send(d.body);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ delivery_id: d.deliveryId, status: 'ignored' });
      expect(away.logLines.some((l) => l.delivery_id === d.deliveryId && l.level === 'warn' && /could not record the delivery as settled/.test(String(l.msg)))).toBe(true);
    } finally {
      await away.close();
    }
  });
});
