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

describe('the causes named, one container at a time', () => {
  const waitingOn = (reason: string, message?: string) => ({ state: { waiting: { reason, ...(message === undefined ? {} : { message }) } } }) as Partial<V1ContainerStatus>;
  const causesFor = (p: V1Pod, events: CoreV1Event[] = [], d = deployment({ available: 0 })) => {
    const state = judgeDeployment(d, view([p], events, d), settings);
    return state.state === 'done' ? [] : state.causes;
  };

  it('names an OOM kill without a memory limit, fatal once the restarts allowed are used, its previous log kept only after a restart', () => {
    const noLimit = { ...pod('web-new-1', newRs, { lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } }, restartCount: 0 }) };
    noLimit.spec = { containers: [{ name: 'web', image: 'x' }] };
    expect(causesFor(noLimit)).toEqual([{ rank: 1, text: 'OOMKilled (no memory limit)', fatal: false, pod: 'web-new-1', container: 'web', previous: false }]);
    const killed = pod('web-new-1', newRs, { state: { terminated: { exitCode: 137, reason: 'OOMKilled' } }, restartCount: 3 });
    expect(causesFor(killed)).toEqual([{ rank: 1, text: 'OOMKilled (limit 256Mi)', fatal: true, pod: 'web-new-1', container: 'web', previous: true }]);
  });

  it('takes a restarted container that is not ready for a crash loop, fatal only in CrashLoopBackOff past the restarts allowed', () => {
    const restarted = pod('web-new-1', newRs, { state: { running: {} }, lastState: { terminated: { exitCode: 2 } }, restartCount: 1, ready: false });
    expect(causesFor(restarted)).toEqual([{ rank: 2, text: 'CrashLoopBackOff (exit code 2; 1 restart)', fatal: false, pod: 'web-new-1', container: 'web', previous: true }]);
    expect(causesFor(pod('web-new-1', newRs, { ...restarted.status!.containerStatuses![0]!, restartCount: 5 }))[0]).toMatchObject({ fatal: false, text: 'CrashLoopBackOff (exit code 2; 5 restarts)' });
    expect(causesFor(pod('web-new-1', newRs, { state: { running: {} }, lastState: { terminated: { exitCode: 2 } }, restartCount: 1, ready: true }))).toEqual([]);
    expect(causesFor(pod('web-new-1', newRs, { state: { running: {} }, lastState: { terminated: { exitCode: 2 } }, restartCount: 0 }))).toEqual([]);
    expect(causesFor(pod('web-new-1', newRs, { ...waitingOn('CrashLoopBackOff'), restartCount: 3 }))).toEqual([
      { rank: 2, text: 'CrashLoopBackOff (no exit code; 3 restarts)', fatal: true, pod: 'web-new-1', container: 'web', previous: true },
    ]);
  });

  it('fails at once for every state a container cannot leave by waiting, the message clipped', () => {
    for (const reason of ['CreateContainerError', 'InvalidImageName', 'RunContainerError']) {
      expect(causesFor(pod('web-new-1', newRs, waitingOn(reason, 'why')))).toEqual([{ rank: 3, text: `${reason}: why`, fatal: true, pod: 'web-new-1', container: 'web' }]);
    }
    expect(causesFor(pod('web-new-1', newRs, waitingOn('CreateContainerConfigError')))[0]!.text).toBe('CreateContainerConfigError:');
    const long = causesFor(pod('web-new-1', newRs, waitingOn('RunContainerError', 'x'.repeat(500))))[0]!.text;
    expect(long).toHaveLength(400);
    expect(long.endsWith('x…')).toBe(true);
    expect(causesFor(pod('web-new-1', newRs, waitingOn('RunContainerError', 'x'.repeat(381))))[0]!.text).toHaveLength(400);
    expect(causesFor(pod('web-new-1', newRs, waitingOn('RunContainerError', 'x'.repeat(381))))[0]!.text.endsWith('x')).toBe(true);
    expect(causesFor(pod('web-new-1', newRs, waitingOn('ContainerCreating', 'pulling')))).toEqual([]);
  });

  it('names a failed pull by the image in the pod\'s spec, with the kubelet\'s latest words for that container, else the back-off\'s', () => {
    const pulling = pod('web-new-1', newRs, waitingOn('ErrImagePull', 'back-off message'));
    expect(causesFor(pulling)).toEqual([{ rank: 4, text: 'ErrImagePull (ghcr.io/acme/web:x): back-off message', fatal: false, pod: 'web-new-1', container: 'web' }]);
    const unnamed = { ...pulling, spec: { containers: [] } };
    expect(causesFor(unnamed)[0]!.text).toBe('ErrImagePull (ghcr.io/acme/web:x): back-off message');
    expect(causesFor(pod('web-new-1', newRs, waitingOn('ImagePullBackOff')))[0]!.text).toBe('ImagePullBackOff (ghcr.io/acme/web:x)');
    const events = [
      event('web-new-1', 'Failed', 'Failed to pull image "x": later', 'spec.containers{web}', '2026-01-01T00:00:03Z'),
      event('web-new-1', 'Failed', 'Failed to pull image "x": earlier  ', 'spec.containers{web}', '2026-01-01T00:00:01Z'),
      event('web-new-1', 'Failed', 'Failed to pull image "x": other container', 'spec.containers{sidecar}', '2026-01-01T00:00:09Z'),
      event('web-new-2', 'Failed', 'Failed to pull image "x": other pod', 'spec.containers{web}', '2026-01-01T00:00:09Z'),
      event('web-new-1', 'BackOff', 'Failed to pull image "x": not a failure', 'spec.containers{web}', '2026-01-01T00:00:09Z'),
      event('web-new-1', 'Failed', 'Error: ErrImagePull', 'spec.containers{web}', '2026-01-01T00:00:09Z'),
      event('web-new-1', 'Failed', 'failed to pull image "x": no field path', undefined, '2026-01-01T00:00:09Z'),
    ];
    expect(causesFor(pulling, events)[0]!.text).toBe('ErrImagePull (ghcr.io/acme/web:x): Failed to pull image "x": later');
    expect(causesFor(pulling, events.slice(1, 2))[0]!.text).toBe('ErrImagePull (ghcr.io/acme/web:x): Failed to pull image "x": earlier');
  });

  it('judges init containers too', () => {
    const init = pod('web-new-1', newRs, {});
    init.spec = { initContainers: [{ name: 'migrate', image: 'ghcr.io/acme/migrate:1' }], containers: [{ name: 'web', image: 'x' }] };
    init.status = { initContainerStatuses: [{ name: 'migrate', image: 'm', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'InvalidImageName', message: 'bad' } } }] };
    expect(causesFor(init)).toEqual([{ rank: 3, text: 'InvalidImageName: bad', fatal: true, pod: 'web-new-1', container: 'migrate' }]);
  });

  it('names a pod that cannot be scheduled, by the scheduler\'s message or its reason', () => {
    const unscheduled = (condition: object) => pod('web-new-1', newRs, waitingOn('ContainerCreating'), { conditions: [condition as never] });
    expect(causesFor(unscheduled({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' }))).toEqual([{ rank: 6, text: 'FailedScheduling: 0/3 nodes', fatal: false }]);
    expect(causesFor(unscheduled({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }))[0]!.text).toBe('FailedScheduling: Unschedulable');
    expect(causesFor(unscheduled({ type: 'PodScheduled', status: 'False' }))[0]!.text).toBe('FailedScheduling: ');
    expect(causesFor(unscheduled({ type: 'PodScheduled', status: 'True' }))).toEqual([]);
    expect(causesFor(unscheduled({ type: 'Ready', status: 'False', message: 'x' }))).toEqual([]);
  });

  it('reads the warnings of the current ReplicaSet and its pods only, oldest first', () => {
    const running = pod('web-new-1', newRs, { state: { running: {} } });
    const rsEvent = (reason: string, message: string, at: string) => ({ ...event('web-new', reason, message, undefined, at), involvedObject: { kind: 'ReplicaSet', name: 'web-new' } });
    const events = [
      rsEvent('FailedCreate', ' quota exceeded ', '2026-01-01T00:00:02Z'),
      rsEvent('FailedCreate', 'older refusal', '2026-01-01T00:00:01Z'),
      event('web-new-1', 'FailedScheduling', ' no node ', undefined, '2026-01-01T00:00:03Z'),
      event('web-new-1', 'Unhealthy', 'Readiness probe failed: 503', undefined, '2026-01-01T00:00:04Z'),
      event('web-new-1', 'Unhealthy', 'Liveness probe failed: 503', 'spec.containers{web}', '2026-01-01T00:00:05Z'),
      event('web-old-1', 'FailedScheduling', 'old pod', undefined, '2026-01-01T00:00:06Z'),
      { ...event('web-new-1', 'FailedScheduling', 'normal', undefined, '2026-01-01T00:00:07Z'), type: 'Normal' },
      { ...event('web-new-1', 'Unhealthy', 'readiness probe failed: nameless', undefined, '2026-01-01T00:00:08Z'), involvedObject: { kind: 'Pod' } },
      // Not a failing probe: the kubelet's ProbeWarning (a probe that passed with a warning) names no readiness failure.
      event('web-new-1', 'ProbeWarning', 'Readiness probe warning: redirect ignored', 'spec.containers{web}', '2026-01-01T00:00:09Z'),
    ];
    expect(causesFor(running, events)).toEqual([
      { rank: 5, text: 'FailedCreate: quota exceeded', fatal: false },
      { rank: 6, text: 'FailedScheduling: no node', fatal: false },
      { rank: 7, text: 'readiness probe failing: Readiness probe failed: 503', fatal: false, pod: 'web-new-1' },
    ]);
    const messageless = { ...event('web-new-1', 'FailedScheduling', 'x', undefined), message: undefined };
    expect(causesFor(running, [messageless])).toEqual([{ rank: 6, text: 'FailedScheduling: ', fatal: false }]);
  });

  it('names a refusal the Deployment reports, by its reason or FailedCreate', () => {
    const refusing = (condition: object) => judgeDeployment(deployment({ available: 0, conditions: [condition] }), view([]), settings);
    expect(refusing({ type: 'ReplicaFailure', status: 'True', reason: 'Forbidden', message: 'no' })).toMatchObject({ causes: [{ rank: 5, text: 'Forbidden: no', fatal: false }] });
    expect(refusing({ type: 'ReplicaFailure', status: 'True' })).toMatchObject({ causes: [{ text: 'FailedCreate: ' }] });
    expect(refusing({ type: 'ReplicaFailure', status: 'False', message: 'gone' })).toMatchObject({ causes: [] });
    expect(refusing({ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'progressing' })).toMatchObject({ causes: [] });
    const noRs = judgeDeployment(deployment({ revision: '9', available: 0, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'Forbidden', message: 'no' }] }), view([pod('web-new-1', newRs, waitingOn('InvalidImageName'))]), settings);
    expect(noRs).toMatchObject({ state: 'waiting', causes: [{ text: 'Forbidden: no' }] });
  });

  it('counts only the current ReplicaSet\'s own pods that are not being deleted', () => {
    const mine = pod('web-new-1', newRs, {});
    const deleting = { ...pod('web-new-2', newRs, {}), metadata: { ...pod('web-new-2', newRs, {}).metadata, deletionTimestamp: new Date() } };
    const otherHash = { ...pod('web-new-3', newRs, {}), metadata: { ...pod('web-new-3', newRs, {}).metadata, labels: { 'pod-template-hash': 'other' } } };
    const orphan = { ...pod('web-new-4', newRs, {}), metadata: { name: 'web-new-4', labels: { 'pod-template-hash': 'new' } } };
    expect(podsOf(newRs, [mine, deleting, otherHash, orphan]).map((p) => p.metadata?.name)).toEqual(['web-new-1']);
    const hashless = { ...newRs, metadata: { ...newRs.metadata, labels: {} } };
    expect(podsOf(hashless, [mine, otherHash]).map((p) => p.metadata?.name)).toEqual(['web-new-1', 'web-new-3']);
  });

  it('finds no current ReplicaSet for a Deployment without a revision', () => {
    const unrevised = deployment();
    delete unrevised.metadata!.annotations;
    const rsWithout = { ...newRs, metadata: { ...newRs.metadata, annotations: {} } };
    expect(currentReplicaSet(unrevised, [rsWithout])).toBeUndefined();
    expect(currentReplicaSet({ ...deployment(), metadata: { ...deployment().metadata, generation: undefined } }, [newRs])?.metadata?.name).toBe('web-new');
  });

  it('ranks the causes most specific first, one per rank (the latest seen), fatal if any of that rank was', () => {
    const d = deployment({ available: 0 });
    const twoPods = view([pod('web-new-1', newRs, waitingOn('InvalidImageName', 'first')), pod('web-new-2', newRs, waitingOn('ErrImagePull', 'second')), pod('web-new-3', newRs, waitingOn('RunContainerError', 'third'))], [], d);
    const judged = judgeDeployment(d, twoPods, settings);
    expect(judged).toMatchObject({ state: 'failed', causes: [{ rank: 3, text: 'RunContainerError: third', fatal: true, pod: 'web-new-3' }, { rank: 4, fatal: false }] });
    expect(judged.state === 'failed' && judged.causes).toHaveLength(2);
    // Seen in the other order, still most specific first.
    const reversed = judgeDeployment(d, view([pod('web-new-1', newRs, waitingOn('ErrImagePull', 'first')), pod('web-new-2', newRs, waitingOn('InvalidImageName', 'second'))], [], d), settings);
    expect(reversed.state === 'failed' && reversed.causes.map((c) => [c.rank, c.pod])).toEqual([[3, 'web-new-2'], [4, 'web-new-1']]);
    const waiting = judgeDeployment(d, view([pod('web-new-1', newRs, waitingOn('ErrImagePull', 'x'))], [], d), settings);
    expect(waiting).toEqual({ state: 'waiting', message: '1 old replicas are pending termination', causes: [expect.objectContaining({ rank: 4 })] });
    const done = judgeDeployment(deployment({ updated: 1, available: 1, total: 1 }), view([pod('web-new-1', newRs, waitingOn('InvalidImageName', 'x'))]), settings);
    expect(done).toEqual({ state: 'done', message: 'deployment "web" successfully rolled out' });
  });
});
