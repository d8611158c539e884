import { describe, expect, it } from '@jest/globals';
import { SameSecondConflict, StaleApproval } from '../../src/reconciler/reconcile-errors.js';
import { snapshotOrder } from '../../src/reconciler/snapshot-order.js';
import { HEAD, OTHER, UPDATED_AT, prJob, prState } from './fixtures.js';

describe(snapshotOrder.name, () => {
  const at = (iso: string) => prState({ lastEventAt: new Date(iso) });

  it('applies the first event, and any when GitHub or arrival order is the authority', () => {
    expect(snapshotOrder(prJob(), null, 'event', false)).toBe('apply');
    expect(snapshotOrder(prJob(), prState({ lastEventAt: null }), 'event', false)).toBe('apply');
    expect(snapshotOrder(prJob(), at('2026-03-01T13:00:00Z'), 'github', true)).toBe('apply');
    expect(snapshotOrder(prJob(), at('2026-03-01T13:00:00Z'), 'arrival', true)).toBe('apply');
  });

  it('finds an older snapshot stale, and a newer one to apply', () => {
    expect(snapshotOrder(prJob(), at('2026-03-01T12:00:01Z'), 'event', false)).toBe('stale');
    expect(snapshotOrder(prJob(), at('2026-03-01T11:59:59Z'), 'event', false)).toBe('apply');
  });

  it('throws StaleApproval for an older event whose review must not be lost', () => {
    expect(() => snapshotOrder(prJob(), at('2026-03-01T12:00:01Z'), 'event', true)).toThrow(new StaleApproval('acme/app#7: a review older than the last applied event'));
    expect(snapshotOrder(prJob(), at(UPDATED_AT), 'event', true)).toBe('apply');
  });

  it('applies an event of the same second that agrees with the last applied one', () => {
    expect(snapshotOrder(prJob(), at(UPDATED_AT), 'event', false)).toBe('apply');
    expect(snapshotOrder(prJob(), prState({ lastEventAt: new Date(UPDATED_AT), lastPrState: null }), 'event', false)).toBe('apply');
  });

  it('throws SameSecondConflict for an event of the same second with another state or head', () => {
    const conflict = (job = prJob(), state = at(UPDATED_AT)) => () => snapshotOrder(job, state, 'event', false);
    expect(conflict(prJob({ state: 'closed' }))).toThrow(
      new SameSecondConflict('acme/app#7: an event of the same second disagrees with the last applied one (open 1111111 against closed 1111111)'),
    );
    expect(conflict(prJob({ headSha: OTHER }))).toThrow(SameSecondConflict);
    expect(conflict(prJob(), prState({ lastEventAt: new Date(UPDATED_AT), lastHeadSha: null }))).toThrow(/\(open undefined against open 1111111\)/);
    expect(snapshotOrder(prJob({ headSha: HEAD }), at(UPDATED_AT), 'event', false)).toBe('apply');
  });
});

describe('the errors that tell the caller what to do next', () => {
  it('carry their names, which the logs and the retry rules show', async () => {
    const { ConcurrentChange, NeedsTransaction } = await import('../../src/reconciler/reconcile-errors.js');
    for (const [Err, name] of [
      [SameSecondConflict, 'SameSecondConflict'],
      [StaleApproval, 'StaleApproval'],
      [ConcurrentChange, 'ConcurrentChange'],
      [NeedsTransaction, 'NeedsTransaction'],
    ] as const) {
      const err = new Err('why');
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(name);
      expect(String(err)).toBe(`${name}: why`);
    }
  });
});
