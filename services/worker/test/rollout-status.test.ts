import { describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1Deployment } from '@kubernetes/client-node';
import { describeEvent, eventTime, rolloutState, warningEvents } from '../src/provisioners/kubernetes/rollout-status.js';

// `kubectl rollout status`'s rules, and the warning events shown while a rollout waits.

function deployment(over: { name?: string | null; generation?: number; observed?: number; replicas?: number; updated?: number; total?: number; available?: number; progressing?: object } = {}): V1Deployment {
  return {
    metadata: { ...(over.name === null ? {} : { name: over.name ?? 'web' }), generation: over.generation ?? 1 },
    spec: { ...(over.replicas === undefined ? {} : { replicas: over.replicas }), selector: {}, template: {} },
    status: {
      observedGeneration: over.observed ?? over.generation ?? 1,
      ...(over.updated === undefined ? {} : { updatedReplicas: over.updated }),
      ...(over.total === undefined ? {} : { replicas: over.total }),
      ...(over.available === undefined ? {} : { availableReplicas: over.available }),
      conditions: over.progressing ? [over.progressing as never] : [],
    },
  };
}

describe(rolloutState.name, () => {
  it('waits until the controller has observed the Deployment\'s generation', () => {
    expect(rolloutState(deployment({ generation: 3, observed: 2, updated: 1, total: 1, available: 1 }))).toEqual({ state: 'waiting', message: 'waiting for deployment "web" spec update to be observed' });
    expect(rolloutState({ metadata: { generation: 1 }, spec: { selector: {}, template: {} } })).toEqual({ state: 'waiting', message: 'waiting for deployment "?" spec update to be observed' });
    expect(rolloutState({}).state).toBe('waiting');
  });

  it('fails at ProgressDeadlineExceeded, with the controller\'s message when it gives one', () => {
    const deadline = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' };
    expect(rolloutState(deployment({ progressing: deadline }))).toEqual({
      state: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: 'deployment "web" exceeded its progress deadline: ReplicaSet "web-1" has timed out progressing.',
    });
    expect(rolloutState(deployment({ progressing: { ...deadline, message: undefined } }))).toEqual({
      state: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: 'deployment "web" exceeded its progress deadline',
    });
    expect(rolloutState(deployment({ updated: 1, total: 1, available: 1, progressing: { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' } })).state).toBe('done');
    expect(rolloutState(deployment({ updated: 1, total: 1, available: 1, progressing: { type: 'Available', status: 'False', reason: 'ProgressDeadlineExceeded' } })).state).toBe('done');
  });

  it('waits for every replica to be updated, the old ones to go and the updated ones to be available', () => {
    expect(rolloutState(deployment({ replicas: 3, updated: 2, total: 3, available: 2 }))).toEqual({ state: 'waiting', message: '2 out of 3 new replicas have been updated' });
    expect(rolloutState(deployment({}))).toEqual({ state: 'waiting', message: '0 out of 1 new replicas have been updated' });
    expect(rolloutState(deployment({ replicas: 2, updated: 2, total: 3, available: 2 }))).toEqual({ state: 'waiting', message: '1 old replicas are pending termination' });
    expect(rolloutState(deployment({ replicas: 2, updated: 2, total: 2, available: 1 }))).toEqual({ state: 'waiting', message: '1 of 2 updated replicas are available' });
    expect(rolloutState(deployment({ replicas: 0 }))).toEqual({ state: 'done', message: 'deployment "web" successfully rolled out' });
  });

  it('is done when every replica is updated and available and no old one is left', () => {
    expect(rolloutState(deployment({ replicas: 2, updated: 2, total: 2, available: 2 }))).toEqual({ state: 'done', message: 'deployment "web" successfully rolled out' });
    expect(rolloutState(deployment({ name: null, updated: 1, total: 1, available: 1 }))).toEqual({ state: 'done', message: 'deployment "?" successfully rolled out' });
  });
});

const ev = (reason: string | undefined, at: Partial<Pick<CoreV1Event, 'lastTimestamp' | 'eventTime' | 'firstTimestamp'>> & { created?: Date } = {}, type = 'Warning'): CoreV1Event => ({
  metadata: { name: `e-${reason}`, ...(at.created ? { creationTimestamp: at.created } : {}) },
  involvedObject: { kind: 'Pod', name: 'web-1' },
  ...(reason === undefined ? {} : { reason }),
  message: ` ${reason} happened `,
  type,
  ...(at.lastTimestamp ? { lastTimestamp: at.lastTimestamp } : {}),
  ...(at.eventTime ? { eventTime: at.eventTime } : {}),
  ...(at.firstTimestamp ? { firstTimestamp: at.firstTimestamp } : {}),
});

describe(eventTime.name, () => {
  it('takes the last time seen, else the event time, the first time, or when it was made; 0 without any', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    expect(eventTime(ev('A', { lastTimestamp: t(4), eventTime: t(3), firstTimestamp: t(2), created: t(1) }))).toBe(t(4).getTime());
    expect(eventTime(ev('A', { eventTime: t(3), firstTimestamp: t(2), created: t(1) }))).toBe(t(3).getTime());
    expect(eventTime(ev('A', { firstTimestamp: t(2), created: t(1) }))).toBe(t(2).getTime());
    expect(eventTime(ev('A', { created: t(1) }))).toBe(t(1).getTime());
    expect(eventTime(ev('A'))).toBe(0);
  });
});

describe(warningEvents.name, () => {
  it('keeps the warnings worth showing, oldest first', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const events = [
      ev('BackOff', { lastTimestamp: t(5) }),
      ev('FailedScheduling', { lastTimestamp: t(1) }),
      ev('Pulled', { lastTimestamp: t(2) }),
      ev('FailedMount', { lastTimestamp: t(3) }, 'Normal'),
      ev(undefined, { lastTimestamp: t(0) }),
      ...['FailedCreate', 'Failed', 'FailedMount', 'Unhealthy', 'FailedCreatePodSandBox'].map((r, i) => ev(r, { lastTimestamp: t(10 + i) })),
    ];
    expect(warningEvents(events).map((e) => e.reason)).toEqual(['FailedScheduling', 'BackOff', 'FailedCreate', 'Failed', 'FailedMount', 'Unhealthy', 'FailedCreatePodSandBox']);
  });
});

describe(describeEvent.name, () => {
  it('names the object, the reason and the trimmed message', () => {
    expect(describeEvent(ev('FailedScheduling'))).toBe('Pod web-1: FailedScheduling: FailedScheduling happened');
    expect(describeEvent({ ...ev('BackOff'), involvedObject: { name: 'web-1' } })).toBe('web-1: BackOff: BackOff happened');
    expect(describeEvent({ ...ev('BackOff'), involvedObject: { kind: 'Pod' } })).toBe('Pod: BackOff: BackOff happened');
    expect(describeEvent({ ...ev('BackOff'), involvedObject: {} })).toBe('BackOff: BackOff happened');
    expect(describeEvent({ metadata: {}, reason: 'BackOff', involvedObject: undefined as never })).toBe('BackOff: ');
  });
});
