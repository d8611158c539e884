import { describe, expect, it } from '@jest/globals';
import { RenewingQueue } from '../src/renewing-queue.js';

/** A queue whose start-up check fails or succeeds as told, and that records being closed. */
function queueThat(starts: boolean) {
  const q = { closed: false, waitUntilReady: () => (starts ? Promise.resolve() : Promise.reject(new Error('MaxRetriesPerRequestError'))), close: async () => void (q.closed = true) };
  return q;
}

describe('RenewingQueue', () => {
  it('hands out a queue that started, and keeps it', async () => {
    let made = 0;
    const r = new RenewingQueue(() => (made++, queueThat(true)));
    const first = await r.usable();
    expect(await r.usable()).toBe(first);
    expect(made).toBe(1);
  });

  it('replaces a queue whose start-up failed: that call fails, the next gets the new queue, the old one is closed', async () => {
    const made = [queueThat(false), queueThat(true)];
    let i = 0;
    const renewed: string[] = [];
    const r = new RenewingQueue(() => made[i++]!, (err) => renewed.push(err.message));
    await expect(r.usable()).rejects.toThrow('MaxRetriesPerRequestError');
    expect(r.queue).toBe(made[1]);
    expect(made[0]!.closed).toBe(true);
    expect(renewed).toEqual(['MaxRetriesPerRequestError']);
    expect(await r.usable()).toBe(made[1]);
  });

  it('replaces a failed queue once when several calls find it together', async () => {
    let made = 0;
    const r = new RenewingQueue(() => queueThat(made++ > 0));
    const results = await Promise.allSettled([r.usable(), r.usable(), r.usable()]);
    expect(results.every((x) => x.status === 'rejected')).toBe(true);
    expect(made).toBe(2);
  });
});
