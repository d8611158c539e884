import { describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1ContainerStatus, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { currentReplicaSet, judgeDeployment, podsOf, type ClusterView } from '../src/provisioners/kubernetes/rollout-judge.js';

// The rollout judgement on objects shaped as a cluster shows them mid-rollout: a Deployment at revision 2, its old
// ReplicaSet (revision 1) and its new one, and their pods.

const settings = { crashRestarts: 3 };

function deployment(over: { generation?: number; observed?: number; revision?: string; replicas?: number; updated?: number; available?: number; total?: number; conditions?: object[] } = {}): V1Deployment {
  return {
    metadata: { name: 'web', uid: 'dep-uid', generation: over.generation ?? 2, annotations: { 'deployment.kubernetes.io/revision': over.revision ?? '2' } },
    spec: { replicas: over.replicas ?? 1, selector: {}, template: { spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:2', resources: { limits: { memory: '256Mi' } } }] } } },
    status: {
      observedGeneration: over.observed ?? over.generation ?? 2,
      updatedReplicas: over.updated ?? 1,
      replicas: over.total ?? 2,
      availableReplicas: over.available ?? 1,
      conditions: (over.conditions ?? []) as never,
    },
  };
}

function replicaSet(name: string, revision: string, hash: string): V1ReplicaSet {
  return {
    metadata: { name, uid: `${name}-uid`, labels: { 'pod-template-hash': hash }, annotations: { 'deployment.kubernetes.io/revision': revision }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-uid' }] },
    spec: { selector: {} },
  };
}

function pod(name: string, rs: V1ReplicaSet, container: Partial<V1ContainerStatus>, extra: Partial<V1Pod['status']> = {}): V1Pod {
  return {
    metadata: { name, labels: { 'pod-template-hash': rs.metadata!.labels!['pod-template-hash']! }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata!.name!, uid: rs.metadata!.uid! }] },
    spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:x', resources: { limits: { memory: '256Mi' } } }] },
    status: { containerStatuses: [{ name: 'web', image: 'ghcr.io/acme/web:x', imageID: '', ready: false, restartCount: 0, ...container }], ...extra },
  };
}

const event = (name: string, reason: string, message: string, fieldPath?: string, at = '2026-01-01T00:00:01Z'): CoreV1Event => ({
  metadata: { name: `${name}.${reason}` },
  involvedObject: { kind: 'Pod', name, ...(fieldPath ? { fieldPath } : {}) },
  reason,
  message,
  type: 'Warning',
  lastTimestamp: new Date(at),
});

const oldRs = replicaSet('web-old', '1', 'old');
const newRs = replicaSet('web-new', '2', 'new');
const crashing = (restarts: number, exitCode = 1, reason = 'Error') =>
  ({ state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }, lastState: { terminated: { exitCode, reason } }, restartCount: restarts }) as Partial<V1ContainerStatus>;
const view = (pods: V1Pod[], events: CoreV1Event[] = [], d = deployment()): ClusterView => ({ deployments: [d], replicaSets: [oldRs, newRs], pods, events });

describe('judgeDeployment', () => {
  it('finds the current ReplicaSet by the Deployment\'s revision, and none until the controller observed the new spec', () => {
    expect(currentReplicaSet(deployment(), [oldRs, newRs])?.metadata?.name).toBe('web-new');
    expect(currentReplicaSet(deployment({ generation: 3, observed: 2 }), [oldRs, newRs])).toBeUndefined();
    const foreign = { ...newRs, metadata: { ...newRs.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'other' }] } };
    expect(currentReplicaSet(deployment(), [oldRs, foreign])).toBeUndefined();
  });

  it('ignores the old ReplicaSet\'s crash-looping pod while the fix rolls out (replicas: 1 keeps it until the new one is available)', () => {
    const old = pod('web-old-1', oldRs, crashing(9));
    const fresh = pod('web-new-1', newRs, { state: { running: {} }, ready: false });
    const state = judgeDeployment(deployment({ updated: 1, available: 0, total: 2 }), view([old, fresh], [event('web-old-1', 'BackOff', 'Back-off restarting failed container')]), settings);
    expect(state).toMatchObject({ state: 'waiting', causes: [] });
    expect(podsOf(newRs, [old, fresh]).map((p) => p.metadata?.name)).toEqual(['web-new-1']);
  });

  it('gives a crash loop PREVIEW_CRASH_RESTARTS restarts before it fails, naming the exit code', () => {
    const at = (restarts: number) => judgeDeployment(deployment({ available: 0 }), view([pod('web-new-1', newRs, crashing(restarts, 3))]), settings);
    expect(at(2)).toMatchObject({ state: 'waiting', causes: [{ text: 'CrashLoopBackOff (exit code 3; 2 restarts)', fatal: false }] });
    expect(at(3)).toMatchObject({ state: 'failed', causes: [{ text: 'CrashLoopBackOff (exit code 3; 3 restarts)', fatal: true, pod: 'web-new-1', container: 'web', previous: true }] });
    expect(judgeDeployment(deployment({ available: 0 }), view([pod('web-new-1', newRs, crashing(1, 3))]), { crashRestarts: 1 }).state).toBe('failed');
  });

  it('names an OOM kill with the memory limit, ahead of the crash loop it causes', () => {
    const state = judgeDeployment(deployment({ available: 0 }), view([pod('web-new-1', newRs, crashing(4, 137, 'OOMKilled'))]), settings);
    expect(state).toMatchObject({ state: 'failed', causes: [{ text: 'OOMKilled (limit 256Mi)' }] });
  });

  it('fails at once for a container that cannot start', () => {
    const state = judgeDeployment(
      deployment({ available: 0 }),
      view([pod('web-new-1', newRs, { state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "db" not found' } } })]),
      settings,
    );
    expect(state).toMatchObject({ state: 'failed', causes: [{ text: 'CreateContainerConfigError: secret "db" not found', fatal: true }] });
  });

  it('waits for an image that cannot be pulled yet, naming the image and the kubelet\'s own words', () => {
    const pulling = pod('web-new-1', newRs, { state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "ghcr.io/acme/web:x"' } } });
    const events = [
      event('web-new-1', 'Failed', 'Failed to pull image "ghcr.io/acme/web:x": rpc error: code = NotFound desc = manifest unknown', 'spec.containers{web}', '2026-01-01T00:00:01Z'),
      event('web-new-1', 'Failed', 'Error: ImagePullBackOff', 'spec.containers{web}', '2026-01-01T00:00:02Z'),
    ];
    expect(judgeDeployment(deployment({ available: 0 }), view([pulling], events), settings)).toMatchObject({
      state: 'waiting',
      causes: [{ text: 'ImagePullBackOff (ghcr.io/acme/web:x): Failed to pull image "ghcr.io/acme/web:x": rpc error: code = NotFound desc = manifest unknown', fatal: false }],
    });
  });

  it('at the progress deadline, names the most specific cause seen rather than the deadline', () => {
    const deadline = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-new" has timed out progressing.' };
    const quota = { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "web-new-x" is forbidden: exceeded quota: q, requested: requests.cpu=4' };
    const unready = pod('web-new-1', newRs, { state: { running: {} }, ready: false });
    const probe = event('web-new-1', 'Unhealthy', 'Readiness probe failed: HTTP probe failed with statuscode: 503', 'spec.containers{web}');
    const unscheduled = pod('web-new-2', newRs, { state: { waiting: { reason: 'ContainerCreating' } } }, { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] });

    const onlyDeadline = judgeDeployment(deployment({ available: 0, conditions: [deadline] }), view([]), settings);
    expect(onlyDeadline).toMatchObject({ state: 'failed', causes: [{ text: expect.stringMatching(/^ProgressDeadlineExceeded: deployment "web" exceeded its progress deadline/) }] });
    const readiness = judgeDeployment(deployment({ available: 0, conditions: [deadline] }), view([unready], [probe]), settings);
    expect(readiness.state === 'failed' && readiness.causes[0]).toMatchObject({ text: 'readiness probe failing: Readiness probe failed: HTTP probe failed with statuscode: 503', pod: 'web-new-1', container: 'web' });
    const scheduling = judgeDeployment(deployment({ available: 0, conditions: [deadline] }), view([unready, unscheduled], [probe]), settings);
    expect(scheduling.state === 'failed' && scheduling.causes.map((c) => c.text.split(':')[0])).toEqual(['FailedScheduling', 'readiness probe failing', 'ProgressDeadlineExceeded']);
    const refused = judgeDeployment(deployment({ available: 0, conditions: [deadline, quota] }), view([unready, unscheduled], [probe]), settings);
    expect(refused.state === 'failed' && refused.causes[0]!.text).toBe('FailedCreate: pods "web-new-x" is forbidden: exceeded quota: q, requested: requests.cpu=4');
  });

  it('is done by kubectl\'s rules once every replica is updated and available and the old ones are gone', () => {
    expect(judgeDeployment(deployment({ updated: 1, available: 1, total: 1 }), view([]), settings)).toEqual({ state: 'done', message: 'deployment "web" successfully rolled out' });
    expect(judgeDeployment(deployment({ updated: 1, available: 1, total: 2 }), view([]), settings)).toMatchObject({ state: 'waiting', message: '1 old replicas are pending termination' });
  });
});
