import { describe, expect, it } from '@jest/globals';
import { JOB_SIGNATURE_FIELD, JobSigner } from '../src/job-signature.js';

const KEY = 'k1'.repeat(16);
const PREVIOUS = 'k0'.repeat(16);
const sut = new JobSigner(KEY);

/** What BullMQ stores and gives back: the data through JSON. */
const stored = <T>(data: T): T => JSON.parse(JSON.stringify(data)) as T;

describe(JobSigner.name, () => {
  it('signs under one reserved field, and verifies what Redis gives back, whatever the order of its keys', () => {
    const data = { deliveryId: 'd-1', repository: { fullName: 'acme/app', id: 7 }, labels: ['a', 'b'], draft: false, title: 'café ✓ "quoted"' };
    const signed = sut.sign('ephemera-webhooks', 'pull_request.opened', data);
    expect(Object.keys(signed)).toEqual([...Object.keys(data), JOB_SIGNATURE_FIELD]);
    expect(signed[JOB_SIGNATURE_FIELD]).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(sut.verify('ephemera-webhooks', 'pull_request.opened', stored(signed))).toEqual({ ok: true, payload: data });
    const reordered = { title: data.title, [JOB_SIGNATURE_FIELD]: signed[JOB_SIGNATURE_FIELD], labels: ['a', 'b'], repository: { id: 7, fullName: 'acme/app' }, draft: false, deliveryId: 'd-1' };
    expect(sut.verify('ephemera-webhooks', 'pull_request.opened', reordered)).toMatchObject({ ok: true });
  });

  it('signs what JSON keeps: undefined fields dropped, dates as their text', () => {
    const at = new Date('2026-01-01T12:00:00Z');
    const signed = sut.sign('ephemera-feedback', 'feedback.report', { prNumber: 3, note: undefined, at });
    expect(sut.verify('ephemera-feedback', 'feedback.report', stored(signed))).toEqual({ ok: true, payload: { prNumber: 3, at: at.toISOString() } });
  });

  it('refuses data without the field as missing, and any change as invalid: payload, name, queue, key, order of an array', () => {
    const signed = stored(sut.sign('ephemera-actions', 'environment.redeploy', { environmentId: 1, tags: ['x', 'y'] }));
    expect(sut.verify('ephemera-actions', 'environment.redeploy', { environmentId: 1, tags: ['x', 'y'] })).toEqual({ ok: false, reason: 'missing' });
    for (const notAnObject of [null, 'text', 5, [signed]]) expect(sut.verify('ephemera-actions', 'environment.redeploy', notAnObject)).toEqual({ ok: false, reason: 'missing' });
    const invalid = { ok: false, reason: 'invalid' };
    expect(sut.verify('ephemera-actions', 'environment.redeploy', { ...signed, environmentId: 2 })).toEqual(invalid);
    expect(sut.verify('ephemera-actions', 'environment.redeploy', { ...signed, extra: true })).toEqual(invalid);
    expect(sut.verify('ephemera-actions', 'environment.redeploy', { ...signed, tags: ['y', 'x'] })).toEqual(invalid);
    expect(sut.verify('ephemera-actions', 'environment.destroy', signed)).toEqual(invalid);
    expect(sut.verify('ephemera-provisioning', 'environment.redeploy', signed)).toEqual(invalid);
    expect(new JobSigner(PREVIOUS).verify('ephemera-actions', 'environment.redeploy', signed)).toEqual(invalid);
    for (const malformed of ['', 'v1=', 'v2=' + '0'.repeat(64), 'v1=' + 'g'.repeat(64), 42, null]) {
      expect(sut.verify('ephemera-actions', 'environment.redeploy', { ...signed, [JOB_SIGNATURE_FIELD]: malformed })).toEqual(invalid);
    }
  });

  it('accepts the previous key while rotating, and signs with the current one only', () => {
    const rotating = new JobSigner(KEY, PREVIOUS);
    const byOld = stored(new JobSigner(PREVIOUS).sign('ephemera-cleanup', 'cleanup.prune', {}));
    expect(rotating.verify('ephemera-cleanup', 'cleanup.prune', byOld)).toEqual({ ok: true, payload: {} });
    expect(sut.verify('ephemera-cleanup', 'cleanup.prune', byOld)).toEqual({ ok: false, reason: 'invalid' });
    const byRotating = rotating.sign('ephemera-cleanup', 'cleanup.prune', {});
    expect(byRotating).toEqual(sut.sign('ephemera-cleanup', 'cleanup.prune', {}));
    // Signing again replaces the signature rather than signing it.
    expect(sut.sign('ephemera-cleanup', 'cleanup.prune', byOld)).toEqual(byRotating);
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new JobSigner('k'.repeat(31))).toThrow('QUEUE_SIGNING_KEY must be at least 32 bytes');
    expect(() => new JobSigner(KEY, 'short')).toThrow('QUEUE_SIGNING_KEY_PREVIOUS must be at least 32 bytes');
  });
});
