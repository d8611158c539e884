import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RolloutScript } from '../src/fake-kubernetes.js';
import { apply, apps, core, deployment, failure, fake, namespace, podsOf, rolledOut, startApi, waitFor } from './api-fixture.js';

/* The rollout scripts, through the official client: what a real cluster shows for each. */

/** Rollout scripts by Deployment name; anything else succeeds. */
const scripts = new Map<string, RolloutScript>();

// A Kubernetes second of 50 ms: a 10 s back-off lasts half a second, long enough to look at each state.
beforeAll(() => startApi({ controllerDelayMs: 15, secondMs: 50, terminatingMs: 80, rollout: (ctx) => scripts.get(ctx.name) ?? 'success' }));
afterAll(() => fake.close());

describe('fake Kubernetes API server: rollouts', () => {
  it("rolls a Deployment out ('success'), then replaces the old generation's pods", async () => {
    await apply(namespace('roll'));
    await apply(deployment('roll', 'web', 'nginx:1.25', 2));
    const first = await rolledOut('roll', 'web');
    expect(first.status).toMatchObject({ observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2 });
    expect(first.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Available', 'True', 'MinimumReplicasAvailable'],
      ['Progressing', 'True', 'NewReplicaSetAvailable'],
    ]);
    const oldPods = (await podsOf('roll', 'web')).map((p) => p.metadata?.name);
    const pod = (await podsOf('roll', 'web'))[0]!;
    expect(pod.status).toMatchObject({ phase: 'Running' });
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, image: 'docker.io/library/nginx:1.25' });
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', controller: true });

    await apply(deployment('roll', 'web', 'nginx:1.26', 2));
    const second = await waitFor('generation 2', async () => {
      const d = await rolledOut('roll', 'web');
      return d.metadata?.generation === 2 && d.status?.observedGeneration === 2 && d.status.availableReplicas === 2 ? d : undefined;
    });
    expect(second.status?.replicas).toBe(2);
    const newPods = (await podsOf('roll', 'web')).map((p) => p.metadata?.name);
    expect(newPods).toHaveLength(2);
    expect(newPods.some((n) => oldPods.includes(n))).toBe(false);
    const replicaSets = (await apps.listNamespacedReplicaSet({ namespace: 'roll' })).items;
    expect(replicaSets.map((r) => r.spec?.replicas).sort()).toEqual([0, 2]);

    await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'roll' });
    expect(fake.list('v1', 'Pod', 'roll')).toEqual([]);
    expect(fake.list('apps/v1', 'ReplicaSet', 'roll')).toEqual([]);
  });

  it("shows 'ImagePullBackOff' on the pods, with Warning events and a 400 for their logs", async () => {
    scripts.set('pull', 'ImagePullBackOff');
    await apply(deployment('roll', 'pull', 'ghcr.io/acme/web:missing', 1));
    const pod = await waitFor('the pull to fail', async () => (await podsOf('roll', 'pull')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff'));
    expect(pod.status?.phase).toBe('Pending');
    const events = await core.listNamespacedEvent({ namespace: 'roll', fieldSelector: `involvedObject.name=${pod.metadata?.name},type=Warning` });
    expect(events.items.map((e) => e.message)).toContain(
      'Failed to pull image "ghcr.io/acme/web:missing": rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/acme/web:missing": failed to resolve reference "ghcr.io/acme/web:missing": ghcr.io/acme/web:missing: not found',
    );
    expect(events.items.every((e) => e.involvedObject.kind === 'Pod' && e.type === 'Warning' && e.count! >= 1 && e.lastTimestamp)).toBe(true);
    const log = await failure(core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll' }));
    expect(log.status.message).toBe(`container "web" in pod "${pod.metadata?.name}" is waiting to start: trying and failing to pull image`);
  });

  it('keeps the old pods serving when an update fails, as a rolling update within maxSurge does', async () => {
    await apply(deployment('roll', 'keep', 'nginx:1.25', 2));
    await rolledOut('roll', 'keep');
    scripts.set('keep', 'ImagePullBackOff');
    await apply(deployment('roll', 'keep', 'nginx:does-not-exist', 2));
    const d = await waitFor('the failed update to settle', async () => {
      const pods = await podsOf('roll', 'keep');
      const failing = pods.filter((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff');
      return failing.length === 1 ? apps.readNamespacedDeployment({ name: 'keep', namespace: 'roll' }) : undefined;
    });
    expect(d.status).toMatchObject({ observedGeneration: 2, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1 });
    expect(d.status?.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'True' });
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
  });

  it("shows 'CrashLoopBackOff' with restarts, the last exit, and the crashed container's log", async () => {
    scripts.set('crash', 'CrashLoopBackOff');
    await apply(deployment('roll', 'crash', 'ghcr.io/acme/web:1.0.0', 1));
    const pod = await waitFor('the crash loop', async () => (await podsOf('roll', 'crash')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff'));
    const status = pod.status!.containerStatuses![0]!;
    // The first exit restarts at once; the second waits the back-off: CrashLoopBackOff with one restart so far.
    expect(status.restartCount).toBe(1);
    expect(status.state?.waiting?.message).toBe(`back-off 10s restarting failed container=web pod=${pod.metadata?.name}_roll(${pod.metadata?.uid})`);
    expect(status.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    const tail = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll', container: 'web', tailLines: 2, previous: true });
    expect(tail).toBe('Error: connect ECONNREFUSED 10.96.0.15:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)\n');
    const whole = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll' });
    expect(whole).toContain('Error: connect ECONNREFUSED');
    const backoff = await core.listNamespacedEvent({ namespace: 'roll', fieldSelector: `involvedObject.name=${pod.metadata?.name},reason=BackOff` });
    expect(backoff.items[0]?.message).toMatch(/^Back-off restarting failed container web in pod crash-/);
  });
});

describe('fake Kubernetes API server: rollout failures and admission', () => {
  it("reports 'ProgressDeadlineExceeded' and the other scripted failures where the real components would", async () => {
    scripts.set('slow', 'ProgressDeadlineExceeded');
    scripts.set('unschedulable', 'FailedScheduling');
    scripts.set('quota', 'FailedCreate');
    const slowDeployment = deployment('roll', 'slow', 'ghcr.io/acme/web:1.0.0', 1);
    // 10 s, on the 50 ms second: the deadline is reached on the controller's clock half a second after the last progress.
    slowDeployment.spec!.progressDeadlineSeconds = 10;
    await apply(slowDeployment);
    await apply(deployment('roll', 'unschedulable', 'ghcr.io/acme/web:1.0.0', 1));
    await apply(deployment('roll', 'quota', 'ghcr.io/acme/web:1.0.0', 1));
    const slow = await waitFor('the deadline', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'slow', namespace: 'roll' });
      return d.status?.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False') ? d : undefined;
    });
    expect(slow.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ reason: 'ProgressDeadlineExceeded', message: expect.stringMatching(/has timed out progressing\.$/) });
    expect(slow.status?.availableReplicas).toBeUndefined();

    const pending = await waitFor('the scheduling failure', async () => (await podsOf('roll', 'unschedulable'))[0]);
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.status?.conditions?.[0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' });
    const scheduling = await core.listNamespacedEvent({ namespace: 'roll', fieldSelector: 'reason=FailedScheduling' });
    expect(scheduling.items[0]?.message).toMatch(/^0\/3 nodes are available: 3 Insufficient cpu\./);

    const created = await waitFor('FailedCreate', async () => (await core.listNamespacedEvent({ namespace: 'roll', fieldSelector: 'reason=FailedCreate' })).items[0]);
    expect(created).toMatchObject({ type: 'Warning', involvedObject: { kind: 'ReplicaSet' } });
    // The controller keeps retrying; after ten such events the event correlator combines the next ones.
    expect(created.message).toMatch(/^(\(combined from similar events\): )?Error creating: pods "quota-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: /);
    expect(await podsOf('roll', 'quota')).toEqual([]);
  });

  it('starts no container whose Secret key is missing (CreateContainerConfigError), whatever the script', async () => {
    const d = deployment('roll', 'config', 'ghcr.io/acme/web:1.0.0', 1);
    d.spec!.template.spec!.containers[0]!.env = [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'app', key: 'DATABASE_URL' } } }];
    fake.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app', namespace: 'roll' }, data: { OTHER: 'eA==' } });
    await apply(d);
    const pod = await waitFor('the config error', async () => (await podsOf('roll', 'config')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError'));
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe("couldn't find key DATABASE_URL in Secret roll/app");
  });

  it('refuses pods as ResourceQuota admission does when a quota tracks what containers do not request', async () => {
    await apply(namespace('quota'));
    await apply({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'quota' }, spec: { hard: { 'requests.cpu': '1', pods: '4' } } });
    await apply(deployment('quota', 'web', 'nginx:1.25', 1));
    const event = await waitFor('FailedCreate', async () => (await core.listNamespacedEvent({ namespace: 'quota', fieldSelector: 'reason=FailedCreate' })).items[0]);
    expect(event.message).toMatch(/is forbidden: failed quota: compute: must specify requests\.cpu for: web$/);
    const quota = await core.readNamespacedResourceQuota({ name: 'compute', namespace: 'quota' });
    expect(quota.status).toEqual({ hard: { 'requests.cpu': '1', pods: '4' }, used: { 'requests.cpu': '0', pods: '0' } });
  });
});

describe('fake Kubernetes API server: the request log', () => {
  it('records API requests with RBAC verbs and resources, apart from discovery', async () => {
    const from = fake.requests.length;
    const discoveryBefore = fake.discoveryRequests;
    const pod = (await podsOf('roll', 'crash'))[0]!;
    await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll', tailLines: 1 });
    await apply(deployment('roll', 'crash', 'ghcr.io/acme/web:1.0.0', 1));
    await apps.readNamespacedDeployment({ name: 'crash', namespace: 'roll' });
    const seen = fake.requests.slice(from).map((r) => ({ verb: r.verb, group: r.group, resource: r.resource, namespace: r.namespace, name: r.name, status: r.status }));
    expect(seen).toEqual([
      { verb: 'list', group: '', resource: 'pods', namespace: 'roll', name: undefined, status: 200 },
      { verb: 'get', group: '', resource: 'pods/log', namespace: 'roll', name: pod.metadata?.name, status: 200 },
      { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'roll', name: 'crash', status: 200 },
      { verb: 'get', group: 'apps', resource: 'deployments', namespace: 'roll', name: 'crash', status: 200 },
    ]);
    const patch = fake.requests[from + 2]!;
    expect(patch).toMatchObject({ contentType: 'application/apply-patch+yaml', fieldManager: 'ephemera' });
    expect(fake.discoveryRequests).toBe(discoveryBefore);
  });
});
