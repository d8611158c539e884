import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { OPERATOR_FREE_FAILURES, OperatorBackOff } from '../src/dashboard/operator-back-off.js';

describe(OperatorBackOff.name, () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  afterAll(() => redis.quit());
  const fresh = (times: ConstructorParameters<typeof OperatorBackOff>[2] = {}) => new OperatorBackOff(redis, `bo-${randomBytes(4).toString('hex')}`, times);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** `n` failed attempts under `username`, each claimed and left unconfirmed, as a wrong password is. */
  async function fail(sut: OperatorBackOff, username: string, n: number) {
    for (let i = 0; i < n; i++) expect(await sut.claim(username)).toBe(0);
  }

  it('lets the first failures through without a wait, then holds every attempt after the 10th', async () => {
    const sut = fresh({ baseMs: 60_000 });
    await fail(sut, 'ops', OPERATOR_FREE_FAILURES);
    const wait = await sut.claim('ops');
    expect(wait).toBeGreaterThan(59_000);
    expect(wait).toBeLessThanOrEqual(60_000);
    // Held attempts are not counted: the wait does not grow while it runs.
    expect(await sut.claim('ops')).toBeLessThanOrEqual(wait);
    // Another username is not held.
    expect(await sut.claim('someone-else')).toBe(0);
  });

  it('doubles the wait with each further failure, up to its longest', async () => {
    const sut = fresh({ baseMs: 100, maxMs: 350 });
    await fail(sut, 'ops', OPERATOR_FREE_FAILURES - 1);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(await sut.claim('ops')).toBe(0);
      const wait = await sut.claim('ops');
      waits.push(wait);
      await sleep(wait + 20);
    }
    // 100, 200, then 400 and 800 capped at 350 (each read a moment after it was set).
    expect(waits.map((w) => Math.round(w / 50) * 50)).toEqual([100, 200, 350, 350]);
  });

  it('forgets the failures after a sign-in, and after the forget time', async () => {
    const sut = fresh({ baseMs: 60_000, forgetMs: 200 });
    await fail(sut, 'ops', OPERATOR_FREE_FAILURES - 1);
    await sut.succeeded('ops');
    await fail(sut, 'ops', OPERATOR_FREE_FAILURES - 1);
    await sleep(300);
    // Nine more failures are again free: the earlier ones were forgotten.
    await fail(sut, 'ops', OPERATOR_FREE_FAILURES - 1);
  });

  it('counts attempts made at the same moment one by one, so no more than the free ones are checked', async () => {
    const sut = fresh({ baseMs: 60_000 });
    const waits = await Promise.all(Array.from({ length: 25 }, () => sut.claim('ops')));
    expect(waits.filter((w) => w === 0)).toHaveLength(OPERATOR_FREE_FAILURES);
  });

  it('keeps usernames only as their hash', async () => {
    const prefix = `bo-${randomBytes(4).toString('hex')}`;
    await new OperatorBackOff(redis, prefix).claim('the-operator');
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${prefix}:operator-sign-in:[0-9a-f]{64}$`));
  });
});
