import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { RolloutContext, RolloutScript } from '../src/fake-kubernetes.js';
import { resolveFenceposts } from '../src/fake-kubernetes/deployment-util.js';
import { condition, deployment, isReady, namespace, sleep, startClient, waitFor, waitingReason, watch, type KubeTestClient } from './kube-test-client.js';

/* The Deployment controller's rules, as kubernetes/kubernetes pkg/controller/deployment applies them, observed
   through the fake's HTTP API. Expected values are worked out by hand from the Go code, never by the code under test. */

describe('ResolveFenceposts (deployment_util.go), default 25 % / 25 %', () => {
  // maxSurge = ceil(25 % × replicas), maxUnavailable = floor(25 % × replicas); both 0 → maxUnavailable 1.
  it.each([
    { replicas: 1, maxSurge: '25%', maxUnavailable: '25%', surge: 1, unavailable: 0 }, // ceil(0.25) = 1, floor(0.25) = 0
    { replicas: 3, maxSurge: '25%', maxUnavailable: '25%', surge: 1, unavailable: 0 }, // ceil(0.75) = 1, floor(0.75) = 0
    { replicas: 4, maxSurge: '25%', maxUnavailable: '25%', surge: 1, unavailable: 1 }, // 1, 1
    { replicas: 10, maxSurge: '25%', maxUnavailable: '25%', surge: 3, unavailable: 2 }, // ceil(2.5) = 3, floor(2.5) = 2
    { replicas: 3, maxSurge: 0, maxUnavailable: '10%', surge: 0, unavailable: 1 }, // 0 and floor(0.3) = 0: unavailable becomes 1
  ])('$replicas replicas, maxSurge $maxSurge, maxUnavailable $maxUnavailable → $surge / $unavailable', ({ replicas, maxSurge, maxUnavailable, surge, unavailable }) => {
    expect(resolveFenceposts(maxSurge, maxUnavailable, replicas)).toEqual({ surge, unavailable });
  });
});

let k: KubeTestClient;
/** Scripts by namespace and generation; anything else succeeds. */
const scripts = new Map<string, RolloutScript>();
const picked: Array<{ ctx: RolloutContext; at: number }> = [];

beforeAll(async () => {
  // A Kubernetes second of 10 ms.
  k = await startClient({
    secondMs: 10,
    rollout: (ctx) => {
      picked.push({ ctx, at: Date.now() });
      return scripts.get(`${ctx.namespace}/${ctx.generation}`) ?? 'success';
    },
  });
});
afterAll(() => k.fake.close());

const replicaSets = async (ns: string) => (await k.apps.listNamespacedReplicaSet({ namespace: ns })).items;
const revision = (rs: { metadata?: { annotations?: Record<string, string> } }) => rs.metadata?.annotations?.['deployment.kubernetes.io/revision'];

describe('a rolling update whose new pods never become available', () => {
  // Stuck state worked out from rolling.go: reconcileNewReplicaSet grows the new ReplicaSet up to replicas + maxSurge
  // pods in all; reconcileOldReplicaSets scales old ones down by allPods - (replicas - maxUnavailable) - unavailable new.
  //  1: new 1 (2 ≤ 1+1); old: 2 - 1 - 1 = 0 → old 1.
  //  3: new 1 (4 ≤ 3+1); old: 4 - 3 - 1 = 0 → old 3.
  //  4: new 1; old: 5 - 3 - 1 = 1 (available 4 > 3) → old 3; new 2; old: 5 - 3 - 2 = 0.
  // 10: new 3; old: 13 - 8 - 3 = 2 → old 8; new 5; old: 13 - 8 - 5 = 0.
  // 3 with maxSurge 0 / maxUnavailable 10 %: new 0 (3 ≥ 3+0); old: 3 - 2 - 0 = 1 → old 2; new 1; old: 3 - 2 - 1 = 0.
  it.each([
    { label: '25%/25%', replicas: 1, strategy: undefined, old: 1, new: 1, status: { replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1 } },
    { label: '25%/25%', replicas: 3, strategy: undefined, old: 3, new: 1, status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 } },
    { label: '25%/25%', replicas: 4, strategy: undefined, old: 3, new: 2, status: { replicas: 5, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 2 } },
    { label: '25%/25%', replicas: 10, strategy: undefined, old: 8, new: 5, status: { replicas: 13, updatedReplicas: 5, readyReplicas: 8, availableReplicas: 8, unavailableReplicas: 5 } },
    {
      label: 'maxSurge 0, maxUnavailable 10%',
      replicas: 3,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } },
      old: 2,
      new: 1,
      status: { replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1 },
    },
  ])('$replicas replicas ($label): old $old, new $new', async ({ replicas, strategy, old, new: fresh, status }) => {
    const ns = `stuck-${replicas}-${strategy ? 'custom' : 'default'}`;
    scripts.set(`${ns}/2`, 'ImagePullBackOff');
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { replicas, ...(strategy ? { strategy } : {}) }));
    await waitFor('generation 1', async () => condition(await k.deployment(ns, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
    await k.apply(deployment(ns, 'web', { replicas, image: 'ghcr.io/acme/web:missing', ...(strategy ? { strategy } : {}) }));
    const counts = async () => {
      const sets = await replicaSets(ns);
      return { old: sets.find((r) => revision(r) === '1')?.spec?.replicas, new: sets.find((r) => revision(r) === '2')?.spec?.replicas };
    };
    await waitFor('the stuck state', async () => {
      const d = await k.deployment(ns, 'web');
      const c = await counts();
      return c.old === old && c.new === fresh && d.status?.updatedReplicas === status.updatedReplicas && d.status?.availableReplicas === status.availableReplicas;
    });
    // It stays there: the controller scales nothing further while no new pod is available.
    await sleep(300);
    expect(await counts()).toEqual({ old, new: fresh });
    const d = await k.deployment(ns, 'web');
    expect(d.status).toMatchObject({ observedGeneration: 2, ...status });
    expect(condition(d, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(condition(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect((await k.pods(ns, 'web')).filter((p) => waitingReason(p) === 'ImagePullBackOff' || waitingReason(p) === 'ErrImagePull')).toHaveLength(fresh);
  });
});

describe('a crash-looping commit, then a fixed one, with replicas 1', () => {
  it('keeps the crash-looping pod until the new one is available, then deletes it', async () => {
    const ns = 'fixed';
    scripts.set(`${ns}/1`, 'CrashLoopBackOff');
    // The fixed commit's pod is ready 15 s after its generation is rolled out (its readiness probe failing until then).
    scripts.set(`${ns}/2`, { readiness: { passAfterSeconds: 15 } });
    await k.apply(namespace(ns));
    const pods = await watch(k.fake, `/api/v1/namespaces/${ns}/pods`);
    const deployments = await watch(k.fake, `/apis/apps/v1/namespaces/${ns}/deployments`);
    await k.apply(deployment(ns, 'web', { probe: true }));
    const old = await waitFor('the crash loop', async () => (await k.pods(ns, 'web')).find((p) => waitingReason(p) === 'CrashLoopBackOff'));
    await k.apply(deployment(ns, 'web', { probe: true, image: 'ghcr.io/acme/web:fixed' }));

    // Read from the watches, not by polling: both pods exist for only 15 s (150 ms), which a busy machine can miss.
    const fresh = await waitFor('the new pod', () => pods.events.find((e) => e.type === 'ADDED' && e.object.metadata.name !== old.metadata?.name)?.object as V1Pod | undefined);
    expect(fresh.metadata?.labels?.['pod-template-hash']).not.toBe(old.metadata?.labels?.['pod-template-hash']);
    // The Deployment's status follows the pods two informer hops later (pods → ReplicaSet status → Deployment).
    const during = await waitFor('the status during the rollout', () => deployments.events.find((e) => e.object.status?.updatedReplicas === 1 && e.object.status.replicas === 2)?.object as V1Deployment | undefined);
    expect(during.status).toMatchObject({ observedGeneration: 2, replicas: 2, updatedReplicas: 1, unavailableReplicas: 2 });
    expect(during.status?.availableReplicas).toBeUndefined();
    expect(condition(during, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });

    await waitFor('the old pod to go', async () => ((await k.pods(ns, 'web')).some((p) => p.metadata?.name === old.metadata?.name) ? undefined : true));
    pods.stop();
    deployments.stop();
    const ready = pods.events.find((e) => e.object.metadata.name === fresh.metadata?.name && isReady(e.object as V1Pod))!;
    // resourceVersions order every write: that status was written while the new pod was not yet ready.
    expect(Number(ready.object.metadata.resourceVersion)).toBeGreaterThan(Number(during.metadata?.resourceVersion));
    // The old pod was still crash-looping (or between restarts) when the new one was created.
    const oldBefore = pods.events.filter((e) => e.object.metadata.name === old.metadata?.name && Number(e.object.metadata.resourceVersion) < Number(fresh.metadata?.resourceVersion));
    expect(isReady(oldBefore.at(-1)?.object as V1Pod)).toBe(false);
    expect(oldBefore.some((e) => waitingReason(e.object as V1Pod) === 'CrashLoopBackOff')).toBe(true);
    const readyAt = ready.at;
    const deletedAt = pods.events.find((e) => e.type === 'DELETED' && e.object.metadata.name === old.metadata?.name)!.at;
    expect(deletedAt).toBeGreaterThanOrEqual(readyAt);
    // Until then every look at the old pod found it still there, still crash-looping or between restarts.
    const oldStates = pods.events.filter((e) => e.object.metadata.name === old.metadata?.name && e.at < readyAt && e.type !== 'DELETED');
    expect(oldStates.length).toBeGreaterThan(0);

    const done = await waitFor('generation 2 complete', async () => {
      const d = await k.deployment(ns, 'web');
      return condition(d, 'Progressing')?.reason === 'NewReplicaSetAvailable' ? d : undefined;
    });
    expect(done.status).toMatchObject({ observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    expect((await replicaSets(ns)).map((r) => [revision(r), r.spec?.replicas]).sort()).toEqual([['1', 0], ['2', 1]]);
    const oldSet = (await replicaSets(ns)).find((r) => revision(r) === '1')!.metadata!.name;
    const scaling = (await k.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=ScalingReplicaSet' })).items.map((e) => e.message);
    expect(scaling).toContain(`Scaled down replica set ${oldSet} to 0 from 1`);
    // The script was picked once per generation, with that generation's images.
    expect(picked.filter((p) => p.ctx.namespace === ns).map((p) => [p.ctx.generation, p.ctx.images, p.ctx.replicas])).toEqual([
      [1, ['ghcr.io/acme/web:1.0.0'], 1],
      [2, ['ghcr.io/acme/web:fixed'], 1],
    ]);
    expect(k.fake.rolloutsCompleted.filter((c) => c.namespace === ns)).toEqual([{ namespace: ns, name: 'web', generation: 2, at: expect.any(Number) }]);
  });
});

describe('the progress deadline, on the controller clock', () => {
  it('reports ProgressDeadlineExceeded progressDeadlineSeconds after the last progress, whatever the script; a new generation starts again', async () => {
    const ns = 'deadline';
    scripts.set(`${ns}/1`, 'ImagePullBackOff');
    await k.apply(namespace(ns));
    const deployments = await watch(k.fake, `/apis/apps/v1/namespaces/${ns}/deployments`);
    // 30 s at 10 ms a second: 300 ms.
    await k.apply(deployment(ns, 'web', { progressDeadlineSeconds: 30 }));
    const timedOut = await waitFor('the deadline', async () => {
      const d = await k.deployment(ns, 'web');
      return condition(d, 'Progressing')?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
    });
    deployments.stop();
    const progressing = deployments.events.map((e) => ({ at: e.at, c: e.object.status?.conditions?.find((c: { type: string }) => c.type === 'Progressing') }));
    // The last write that changed the Progressing condition while it was True: the last progress.
    const changes = progressing.filter((p, i) => JSON.stringify(p.c) !== JSON.stringify(progressing[i - 1]?.c));
    const lastProgress = changes.filter((p) => p.c?.status === 'True').at(-1)!;
    const deadline = progressing.find((p) => p.c?.reason === 'ProgressDeadlineExceeded')!;
    expect(lastProgress.c.reason).toBe('ReplicaSetUpdated');
    // The controller's status writes reached the watch, in order.
    const reasons = changes.map((p) => p.c?.reason).filter((r, i, all) => r && r !== all[i - 1]);
    expect(reasons).toEqual(['NewReplicaSetCreated', 'ReplicaSetUpdated', 'ProgressDeadlineExceeded']);
    // DeploymentTimedOut once 30 s have passed; requeueStuckDeployment looks a second after that.
    expect(deadline.at - lastProgress.at).toBeGreaterThanOrEqual(300 - 5);
    expect(deadline.at - lastProgress.at).toBeLessThan(300 + 10 + 150);
    expect(condition(timedOut, 'Progressing')).toMatchObject({ status: 'False', message: expect.stringMatching(/^ReplicaSet "web-[a-z0-9]+" has timed out progressing\.$/) });
    expect(condition(timedOut, 'Available')).toMatchObject({ status: 'False' });

    // A new generation: a new ReplicaSet, progress counted from its creation, and this one completes.
    await k.apply(deployment(ns, 'web', { progressDeadlineSeconds: 30, image: 'ghcr.io/acme/web:pushed' }));
    const created = await waitFor('NewReplicaSetCreated', async () => {
      const c = condition(await k.deployment(ns, 'web'), 'Progressing');
      return c?.status === 'True' ? c : undefined;
    });
    expect(['NewReplicaSetCreated', 'ReplicaSetUpdated', 'NewReplicaSetAvailable']).toContain(created.reason);
    await waitFor('generation 2 complete', async () => condition(await k.deployment(ns, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
    expect(k.fake.rolloutsCompleted.filter((c) => c.namespace === ns).map((c) => c.generation)).toEqual([2]);
  });

  it("times out a 'pending' rollout on the same clock", async () => {
    const ns = 'deadline-scripts';
    scripts.set(`${ns}/1`, 'pending');
    await k.apply(namespace(ns));
    const started = Date.now();
    await k.apply(deployment(ns, 'hang', { progressDeadlineSeconds: 20 }));
    await waitFor('the deadline', async () => condition(await k.deployment(ns, 'hang'), 'Progressing')?.reason === 'ProgressDeadlineExceeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
});

describe('minReadySeconds and Recreate', () => {
  it('counts a pod available minReadySeconds after it became ready', async () => {
    const ns = 'min-ready';
    await k.apply(namespace(ns));
    const sets = await watch(k.fake, `/apis/apps/v1/namespaces/${ns}/replicasets`);
    const pods = await watch(k.fake, `/api/v1/namespaces/${ns}/pods`);
    await k.apply(deployment(ns, 'web', { minReadySeconds: 20 }));
    await waitFor('complete', async () => condition(await k.deployment(ns, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
    sets.stop();
    pods.stop();
    // From the kubelet's write of the Ready condition, as the controller counts (not from when it noticed).
    const readyAt = pods.events.find((e) => isReady(e.object as V1Pod))!.at;
    const counted = sets.events.find((e) => e.object.status?.readyReplicas === 1)!;
    const available = sets.events.find((e) => e.object.status?.availableReplicas === 1)!;
    expect(counted.object.status.availableReplicas ?? 0).toBe(0);
    expect(available.at - readyAt).toBeGreaterThanOrEqual(200);
    expect(available.at - readyAt).toBeLessThan(200 + 150);
  });

  it('Recreate: the old pods are gone before the new ReplicaSet is created', async () => {
    const ns = 'recreate';
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { replicas: 2, strategy: { type: 'Recreate' } }));
    await waitFor('generation 1', async () => condition(await k.deployment(ns, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
    const pods = await watch(k.fake, `/api/v1/namespaces/${ns}/pods`);
    await k.apply(deployment(ns, 'web', { replicas: 2, strategy: { type: 'Recreate' }, image: 'ghcr.io/acme/web:2' }));
    // Until the new ReplicaSet exists, Progressing still says NewReplicaSetAvailable (the previous rollout's), as
    // recreate.go leaves it: the completion of generation 2 is what to wait for.
    await waitFor('generation 2', () => k.fake.rolloutsCompleted.some((c) => c.namespace === ns && c.generation === 2));
    pods.stop();
    const lastDeleted = pods.events.filter((e) => e.type === 'DELETED').at(-1)!.at;
    const firstNew = pods.events.find((e) => e.type === 'ADDED' && e.object.spec.containers[0].image === 'ghcr.io/acme/web:2')!.at;
    expect(pods.events.filter((e) => e.type === 'DELETED')).toHaveLength(2);
    expect(firstNew).toBeGreaterThanOrEqual(lastDeleted);
  });
});
