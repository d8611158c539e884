import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { RolloutScript } from '../src/fake-kubernetes.js';
import { condition, deployment, isReady, namespace, sleep, startClient, waitFor, waitingReason, watch, type KubeTestClient } from './kube-test-client.js';

/* The kubelet's back-offs and what a real node shows, on a scaled clock, observed through the fake's HTTP API. */

let k: KubeTestClient;
/** Scripts by namespace (generation 1); anything else succeeds. */
const scripts = new Map<string, RolloutScript>();

beforeAll(async () => {
  k = await startClient({
    secondMs: 20,
    rollout: (ctx) => scripts.get(ctx.namespace) ?? 'success',
  });
});
afterAll(() => k.fake.close());

const podEvents = async (ns: string, pod: string) => (await k.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${pod}` })).items;
const logOf = async (ns: string, pod: string, query = '') => {
  const res = await fetch(`${k.fake.url}/api/v1/namespaces/${ns}/pods/${pod}/log${query}`, { headers: { authorization: 'Bearer fake-token' } });
  return { status: res.status, text: await res.text() };
};

describe('image pulls', () => {
  it('an image pushed late is picked up at the first pull attempt after it appears, attempts 10 s, 20 s, 40 s apart', async () => {
    // Its own server, with a second of 50 ms: the timers behind these intervals fire a few ms late on a busy machine.
    let picked = 0;
    const late = await startClient({
      secondMs: 50,
      rollout: () => {
        picked = Date.now();
        // Pullable 35 s after the rollout was picked: after the third attempt (about 30 s in), before the fourth (70 s).
        return { pullableAfterSeconds: 35 };
      },
    });
    try {
      await late.apply(namespace('late'));
      const events = await watch(late.fake, '/api/v1/namespaces/late/events');
      const pods = await watch(late.fake, '/api/v1/namespaces/late/pods');
      await late.apply(deployment('late', 'web', { image: 'ghcr.io/acme/web:late' }));
      await waitFor('the rollout', () => late.fake.rolloutsCompleted[0], 8000);
      events.stop();
      pods.stop();

      const attempts = events.events.filter((e) => e.object.reason === 'Pulling' && e.object.involvedObject.kind === 'Pod').map((e) => e.at);
      expect(attempts).toHaveLength(4);
      const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
      // 10 s, 20 s, 40 s of back-off, within a Kubernetes second.
      [500, 1000, 2000].forEach((expected, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(expected - 50);
        expect(gaps[i]).toBeLessThan(expected + 100);
      });
      const pullable = picked + 35 * 50;
      expect(attempts[2]).toBeLessThan(pullable);
      expect(attempts[3]).toBeGreaterThan(pullable);
      const pulled = events.events.find((e) => e.object.reason === 'Pulled')!;
      expect(pulled.object.message).toMatch(/^Successfully pulled image "ghcr\.io\/acme\/web:late" in /);
      expect(pulled.at).toBeGreaterThanOrEqual(attempts[3]!);
      expect(late.fake.rolloutsCompleted[0]!.at).toBeGreaterThan(attempts[3]!);

      const pod = (await late.pods('late', 'web'))[0]!;
      const error = 'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/acme/web:late": failed to resolve reference "ghcr.io/acme/web:late": ghcr.io/acme/web:late: not found';
      const items = (await late.core.listNamespacedEvent({ namespace: 'late', fieldSelector: `involvedObject.name=${pod.metadata!.name}` })).items;
      expect(Object.fromEntries(items.map((e) => [`${e.type} ${e.reason} ${e.message}`, e.count]))).toMatchObject({
        'Normal Pulling Pulling image "ghcr.io/acme/web:late"': 4,
        [`Warning Failed Failed to pull image "ghcr.io/acme/web:late": ${error}`]: 3,
        'Warning Failed Error: ErrImagePull': 3,
        'Normal BackOff Back-off pulling image "ghcr.io/acme/web:late"': 3,
        'Warning Failed Error: ImagePullBackOff': 3,
      });
      // The container showed ErrImagePull after each failed pull, ImagePullBackOff (with the last error) between them.
      const states = pods.events.map((e) => (e.object as V1Pod).status?.containerStatuses?.[0]?.state?.waiting).filter(Boolean);
      expect(states).toContainEqual({ reason: 'ErrImagePull', message: error });
      expect(states).toContainEqual({ reason: 'ImagePullBackOff', message: `Back-off pulling image "ghcr.io/acme/web:late": ErrImagePull: ${error}` });
      expect(isReady(pod)).toBe(true);
    } finally {
      await late.fake.close();
    }
  });
});

describe('image pull errors', () => {
  it.each([
    {
      pullError: 'unauthorized' as const,
      image: 'ghcr.io/acme/private:1',
      error:
        'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/private:1": failed to resolve reference "ghcr.io/acme/private:1": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fprivate%3Apull&service=ghcr.io: 401 Unauthorized',
    },
    {
      pullError: 'manifest unknown' as const,
      image: 'acme/web:gone',
      error: 'rpc error: code = Unknown desc = Error response from daemon: manifest for acme/web:gone not found: manifest unknown: manifest unknown',
    },
  ])('ImagePullBackOff says why: $pullError', async ({ pullError, image, error }) => {
    const ns = `pull-${pullError.replace(' ', '-')}`;
    scripts.set(ns, { pullError });
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { image }));
    const pod = await waitFor('the back-off', async () => (await k.pods(ns, 'web')).find((p) => waitingReason(p) === 'ImagePullBackOff'));
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(`Back-off pulling image "${image}": ErrImagePull: ${error}`);
    expect((await podEvents(ns, pod.metadata!.name!)).map((e) => e.message)).toContain(`Failed to pull image "${image}": ${error}`);
    expect(await logOf(ns, pod.metadata!.name!)).toMatchObject({ status: 400, text: expect.stringContaining('is waiting to start: trying and failing to pull image') });
  });
});

describe('containers that exit', () => {
  it.each([
    { script: 'CrashLoopBackOff' as const, exitCode: 1, reason: 'Error' },
    { script: 'OOMKilled' as const, exitCode: 137, reason: 'OOMKilled' },
  ])('$script: restarts at once, then after 10 s, 20 s, 40 s of back-off; restartCount grows', async ({ script, exitCode, reason }) => {
    const ns = `exits-${script.toLowerCase()}`;
    scripts.set(ns, script);
    await k.apply(namespace(ns));
    const pods = await watch(k.fake, `/api/v1/namespaces/${ns}/pods`);
    await k.apply(deployment(ns, 'web', { probe: true }));
    await waitFor('four restarts', async () => ((await k.pods(ns, 'web'))[0]?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 4, 5000);
    pods.stop();
    const statuses = pods.events.map((e) => ({ at: e.at, s: (e.object as V1Pod).status?.containerStatuses?.[0] })).filter((x) => x.s);
    const restartedAt = (n: number) => statuses.find((x) => x.s!.restartCount === n && x.s!.state?.running)!.at;
    // Each restart after the first: the 1 s run, then the back-off counted from the exit (20 ms a second).
    [[2, 1, 220], [3, 2, 420], [4, 3, 820]].forEach(([n, previous, expected]) => {
      expect(restartedAt(n!) - restartedAt(previous!)).toBeGreaterThanOrEqual(expected! - 20);
      // Late by a busy machine's timers at most; each back-off stays well short of the next one's double.
      expect(restartedAt(n!) - restartedAt(previous!)).toBeLessThan(expected! + 150);
    });
    // The back-offs before the fourth restart: a busy machine may see the fourth run exit before the watch stops.
    const backOffs = [...new Set(statuses.filter((x) => x.at <= restartedAt(4)).map((x) => x.s!.state?.waiting?.message).filter(Boolean))].map((m) => m!.split(' ')[1]);
    expect(backOffs).toEqual(['10s', '20s', '40s']);
    const pod = (await k.pods(ns, 'web'))[0]!;
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ exitCode, reason });
    const backOff = (await podEvents(ns, pod.metadata!.name!)).find((e) => e.reason === 'BackOff')!;
    expect(backOff).toMatchObject({ type: 'Warning', message: `Back-off restarting failed container web in pod ${pod.metadata?.name}_${ns}(${pod.metadata?.uid})` });
    expect(backOff.count).toBeGreaterThanOrEqual(3);
    const d = await k.deployment(ns, 'web');
    expect(condition(d, 'Available')?.status).toBe('False');
  });

  it('an app that exits until its database is up: two crashes, then it runs; the previous run’s log stays readable', async () => {
    const ns = 'until-db';
    const log = 'migrating database\nError: connect ECONNREFUSED 10.96.0.20:5432';
    scripts.set(ns, { crash: { exitCode: 3, untilRestarts: 2, log } });
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { probe: true }));
    const crashing = await waitFor('the back-off', async () => (await k.pods(ns, 'web')).find((p) => waitingReason(p) === 'CrashLoopBackOff'));
    expect(crashing.status?.containerStatuses?.[0]).toMatchObject({ restartCount: 1, ready: false, lastState: { terminated: { exitCode: 3, reason: 'Error' } } });
    expect(await logOf(ns, crashing.metadata!.name!)).toEqual({ status: 200, text: `${log}\n` });
    await waitFor('the rollout', () => k.fake.rolloutsCompleted.find((c) => c.namespace === ns), 5000);
    const pod = (await k.pods(ns, 'web'))[0]!;
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ restartCount: 2, ready: true, state: { running: {} }, lastState: { terminated: { exitCode: 3, reason: 'Error' } } });
    expect(await logOf(ns, pod.metadata!.name!, '?previous=true')).toEqual({ status: 200, text: `${log}\n` });
    expect((await logOf(ns, pod.metadata!.name!)).text).toContain('INFO listening on 0.0.0.0:8080');
  });
});

describe('readiness probes', () => {
  it('a probe that keeps failing: running, never ready, an Unhealthy event counted every period', async () => {
    const ns = 'unready';
    scripts.set(ns, { readiness: { failWith: 503 } });
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { probe: true }));
    const pod = await waitFor('the first probe', async () => (await k.pods(ns, 'web')).find((p) => p.status?.containerStatuses?.[0]?.state?.running));
    const unhealthy = async () => (await podEvents(ns, pod.metadata!.name!)).find((e) => e.reason === 'Unhealthy');
    await waitFor('an Unhealthy event', unhealthy);
    const first = (await unhealthy())!.count!;
    // periodSeconds 5 at 20 ms a second: a probe every 100 ms.
    await sleep(500);
    const later = (await unhealthy())!;
    expect(later.count! - first).toBeGreaterThanOrEqual(4);
    expect(later.count! - first).toBeLessThanOrEqual(6);
    expect(later).toMatchObject({ type: 'Warning', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', source: { component: 'kubelet' } });
    expect(later.involvedObject.fieldPath).toBe('spec.containers{web}');
    const now = (await k.pods(ns, 'web'))[0]!;
    expect(now.status?.phase).toBe('Running');
    expect(now.status?.containerStatuses?.[0]).toMatchObject({ ready: false, started: true, restartCount: 0 });
    expect(now.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [web]' });
  });

  it("'ProgressDeadlineExceeded' with a probe: refused on the pod's IP", async () => {
    const ns = 'refused';
    scripts.set(ns, 'ProgressDeadlineExceeded');
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web', { probe: true }));
    const pod = await waitFor('the pod', async () => (await k.pods(ns, 'web')).find((p) => p.status?.podIP));
    const event = await waitFor('Unhealthy', async () => (await podEvents(ns, pod.metadata!.name!)).find((e) => e.reason === 'Unhealthy'));
    const ip = pod.status!.podIP!;
    expect(event.message).toBe(`Readiness probe failed: Get "http://${ip}:8080/healthz": dial tcp ${ip}:8080: connect: connection refused`);
  });
});

describe('quota', () => {
  it("'FailedCreate': ReplicaFailure on the ReplicaSet, copied to the Deployment, and a FailedCreate event", async () => {
    const ns = 'quota-script';
    scripts.set(ns, 'FailedCreate');
    await k.apply(namespace(ns));
    await k.apply(deployment(ns, 'web'));
    const rs = await waitFor('ReplicaFailure', async () => (await k.apps.listNamespacedReplicaSet({ namespace: ns })).items.find((r) => r.status?.conditions?.length));
    const failure = rs.status!.conditions![0]!;
    expect(failure).toMatchObject({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' });
    expect(failure.message).toMatch(/^pods "web-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: compute-resources, requested: requests\.cpu=500m, used: requests\.cpu=1, limited: requests\.cpu=1$/);
    const events = (await k.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=FailedCreate' })).items;
    expect(events.map((e) => e.message)).toContain(`Error creating: ${failure.message}`);
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'ReplicaSet', name: rs.metadata?.name }, source: { component: 'replicaset-controller' } });
    const d = await waitFor('the Deployment condition', async () => {
      const x = await k.deployment(ns, 'web');
      return condition(x, 'ReplicaFailure') ? x : undefined;
    });
    const copied = condition(d, 'ReplicaFailure')!;
    expect(copied).toMatchObject({ status: 'True', reason: 'FailedCreate', message: failure.message });
    expect(String(copied.lastUpdateTime)).toBe(String(copied.lastTransitionTime));
    expect(await k.pods(ns, 'web')).toEqual([]);
  });

  it('a real ResourceQuota: the second pod is refused until the quota grows, then created; ReplicaFailure goes', async () => {
    const ns = 'quota-real';
    await k.apply(namespace(ns));
    const quota = (pods: string) => ({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'pods', namespace: ns }, spec: { hard: { pods } } });
    await k.apply(quota('1'));
    await k.apply(deployment(ns, 'web', { replicas: 2 }));
    const d = await waitFor('ReplicaFailure', async () => {
      const x = await k.deployment(ns, 'web');
      return condition(x, 'ReplicaFailure') ? x : undefined;
    });
    expect(condition(d, 'ReplicaFailure')!.message).toMatch(/^pods "web-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1$/);
    expect(await k.pods(ns, 'web')).toHaveLength(1);
    await k.apply(quota('2'));
    await waitFor('the rollout', () => k.fake.rolloutsCompleted.find((c) => c.namespace === ns), 5000);
    const after = await k.deployment(ns, 'web');
    expect(condition(after, 'ReplicaFailure')).toBeUndefined();
    expect((await k.apps.listNamespacedReplicaSet({ namespace: ns })).items[0]?.status?.conditions).toBeUndefined();
    expect(await k.pods(ns, 'web')).toHaveLength(2);
  });
});
