import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { MAX_STREAMS_PER_SESSION, StreamLimits, type StreamLease } from '../src/dashboard/stream-limits.js';

describe(StreamLimits.name, () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  afterAll(() => redis.quit());
  const prefix = () => `sl-${randomBytes(4).toString('hex')}`;
  const leases = (results: Array<StreamLease | string>) => results.filter((r): r is StreamLease => typeof r !== 'string');

  it('gives a session 4 places, shared by every process on the same Redis, and frees a place when its stream ends', async () => {
    const shared = prefix();
    const replicaA = new StreamLimits(redis, shared, { total: 100 });
    const replicaB = new StreamLimits(redis, shared, { total: 100 });
    const held = leases([await replicaA.acquire('s1'), await replicaA.acquire('s1'), await replicaB.acquire('s1'), await replicaB.acquire('s1')]);
    expect(held).toHaveLength(MAX_STREAMS_PER_SESSION);
    expect(await replicaA.acquire('s1')).toBe('session');
    expect(await replicaB.acquire('s1')).toBe('session');
    expect(typeof (await replicaB.acquire('s2'))).toBe('object');
    await held[0]!.release();
    // Released twice: freed once.
    await held[0]!.release();
    expect(typeof (await replicaB.acquire('s1'))).toBe('object');
    expect(await replicaA.acquire('s1')).toBe('session');
  });

  it('holds its process to `total` streams in all, whatever the sessions', async () => {
    const sut = new StreamLimits(redis, prefix(), { total: 3 });
    const held = leases(await Promise.all(['a', 'b', 'c', 'd', 'e'].map((s) => sut.acquire(s))));
    expect(held).toHaveLength(3);
    expect(await sut.acquire('f')).toBe('total');
    await held[1]!.release();
    expect(typeof (await sut.acquire('f'))).toBe('object');
  });

  it('keeps places by lease, so those of a process that died are freed when the lease runs out', async () => {
    const p = prefix();
    const dead = new StreamLimits(redis, p, { total: 100 });
    for (let i = 0; i < MAX_STREAMS_PER_SESSION; i++) expect(typeof (await dead.acquire('s1'))).toBe('object');
    const key = (await redis.keys(`${p}:dashboard-streams:*`))[0]!;
    expect(await redis.pttl(key)).toBeGreaterThan(20_000);
    // The dead process's leases as they are once their time is up.
    const members = await redis.zrange(key, '0', '-1');
    for (const m of members) await redis.zadd(key, String(Date.now() - 1), m);
    expect(typeof (await new StreamLimits(redis, p, { total: 100 }).acquire('s1'))).toBe('object');
  });
});
