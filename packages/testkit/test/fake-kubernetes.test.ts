import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes, type RolloutScript } from '../src/fake-kubernetes.js';

/* The client is the official one, unchanged: whatever it accepts here it accepts from a real API server. */

let fake: FakeKubernetes;
let objects: KubernetesObjectApi;
let core: CoreV1Api;
let apps: AppsV1Api;
let authz: AuthorizationV1Api;
/** Rollout scripts by Deployment name; anything else succeeds. */
const scripts = new Map<string, RolloutScript>();

beforeAll(async () => {
  fake = await startFakeKubernetes({ controllerDelayMs: 15, terminatingMs: 80, rollout: (ctx) => scripts.get(ctx.name) ?? 'success' });
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig);
  objects = KubernetesObjectApi.makeApiClient(kc);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  authz = kc.makeApiClient(AuthorizationV1Api);
});

afterAll(async () => {
  await fake.close();
});

interface Status {
  kind: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ reason: string; message: string; field: string }> };
}

/** The Status body of a failed call (client-node leaves it as text). */
async function failure(call: Promise<unknown>): Promise<{ code: number; status: Status; headers: Record<string, string> }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body as Status, headers: err.headers as Record<string, string> };
  }
  throw new Error('the call succeeded');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const apply = <T extends KubernetesObject>(obj: T, manager: string | null = 'ephemera', force = true) =>
  objects.patch(obj, undefined, undefined, manager ?? undefined, force, PatchStrategy.ServerSideApply) as Promise<T>;

const namespace = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });

function deployment(ns: string, name: string, image = 'ghcr.io/acme/web:1.0.0', replicas = 2): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  };
}

async function rolledOut(ns: string, name: string): Promise<V1Deployment> {
  return waitFor(`${name} to settle`, async () => {
    const d = await apps.readNamespacedDeployment({ name, namespace: ns });
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    const done = d.status?.observedGeneration === d.metadata?.generation && progressing && progressing.reason !== 'NewReplicaSetCreated';
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` });
    const settled = pods.items.every((p) => p.status?.containerStatuses?.every((s) => s.state?.waiting?.reason !== 'ContainerCreating') ?? p.status?.phase === 'Pending');
    return done && settled ? d : undefined;
  });
}

const podsOf = async (ns: string, app: string): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;

describe('fake Kubernetes API server', () => {
  it('serves discovery and the kubeconfig, and refuses other tokens with a 401 Status', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fake-kube-'));
    try {
      const file = fake.writeKubeconfig(dir);
      expect(await readFile(file, 'utf8')).toContain('insecure-skip-tls-verify: true');
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      expect(kc.getCurrentContext()).toBe('fake');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const version = await fetch(`${fake.url}/version`, { headers: { authorization: 'Bearer fake-token' } });
    expect(await version.json()).toMatchObject({ major: '1', gitVersion: 'v1.30.0' });
    const v1 = (await (await fetch(`${fake.url}/api/v1`, { headers: { authorization: 'Bearer fake-token' } })).json()) as { resources: Array<{ name: string; kind: string; namespaced: boolean; verbs: string[] }> };
    expect(v1.resources.find((r) => r.name === 'namespaces')).toMatchObject({ kind: 'Namespace', namespaced: false });
    expect(v1.resources.find((r) => r.name === 'pods/log')).toMatchObject({ kind: 'Pod', verbs: ['get'] });

    const stranger = new KubeConfig();
    stranger.loadFromString(fake.kubeconfig.replace('token: fake-token', 'token: wrong'));
    // client-node drops the body of a 401 from typed calls; the Status is there on the wire.
    expect((await failure(stranger.makeApiClient(CoreV1Api).listNamespace())).code).toBe(401);
    const raw = await fetch(`${fake.url}/api/v1/namespaces`, { headers: { authorization: 'Bearer wrong' } });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
  });

  it('server-side apply creates, then updates in place: same uid, generation bumped only by spec changes', async () => {
    await apply(namespace('ssa', { team: 'web' }));
    const created = await apply(deployment('ssa', 'web'));
    expect(created.metadata).toMatchObject({ generation: 1, namespace: 'ssa' });
    expect(created.metadata?.managedFields?.[0]).toMatchObject({ manager: 'ephemera', operation: 'Apply' });
    expect(created.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe('IfNotPresent');

    // Once the controller has settled the rollout, applying the same configuration again changes nothing.
    const settled = await rolledOut('ssa', 'web');
    const again = await apply(deployment('ssa', 'web'));
    expect(again.metadata?.resourceVersion).toBe(settled.metadata?.resourceVersion);

    const labelled = deployment('ssa', 'web');
    labelled.metadata!.labels!.tier = 'frontend';
    const relabelled = await apply(labelled);
    expect(relabelled.metadata?.generation).toBe(1);
    expect(relabelled.metadata?.labels).toEqual({ app: 'web', tier: 'frontend' });

    const updated = await apply(deployment('ssa', 'web', 'ghcr.io/acme/web:1.1.0'));
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    expect(updated.metadata?.generation).toBe(2);
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(relabelled.metadata?.resourceVersion));
    // The label the manager stopped applying is gone; the one it applies stays.
    expect(updated.metadata?.labels).toEqual({ app: 'web' });
  });

  it('refuses an apply without fieldManager, and a conflicting apply unless forced', async () => {
    const missing = await failure(apply(deployment('ssa', 'web', 'ghcr.io/acme/web:1.1.0'), null));
    // The API server answers NewInvalid for PatchOptions: 422, as kubectl's "The PatchOptions "" is invalid" shows.
    expect(missing.code).toBe(422);
    expect(missing.status.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');

    const other = deployment('ssa', 'web', 'ghcr.io/acme/web:1.1.0');
    other.spec!.replicas = 5;
    const conflict = await failure(apply(other, 'someone-else', false));
    expect(conflict.code).toBe(409);
    expect(conflict.status.message).toBe('Apply failed with 1 conflict: conflict with "ephemera" using apps/v1: .spec.replicas');
    const forced = await apply(other, 'someone-else', true);
    expect(forced.spec?.replicas).toBe(5);
  });

  it('validates like the API server: 422 Invalid naming the fields', async () => {
    const noImage = deployment('ssa', 'broken');
    delete noImage.spec!.template.spec!.containers[0]!.image;
    const a = await failure(apply(noImage));
    expect(a.code).toBe(422);
    expect(a.status).toMatchObject({ reason: 'Invalid', message: 'Deployment.apps "broken" is invalid: spec.template.spec.containers[0].image: Required value' });
    expect(a.status.details).toMatchObject({ name: 'broken', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueRequired', field: 'spec.template.spec.containers[0].image' }] });

    const mismatch = deployment('ssa', 'mismatch');
    mismatch.spec!.selector = { matchLabels: { app: 'other' } };
    const b = await failure(objects.create(mismatch));
    expect(b.code).toBe(422);
    expect(b.status.message).toContain('spec.template.metadata.labels: Invalid value: map[string]string{"app":"mismatch"}: `selector` does not match template `labels`');

    const badName = await failure(objects.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: '1web', namespace: 'ssa' }, spec: { ports: [{ port: 80 }] } }));
    expect(badName.status.details?.causes?.[0]).toMatchObject({ field: 'metadata.name', reason: 'FieldValueInvalid' });
    const badLabel = await failure(objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ssa', labels: { app: 'not ok!' } } }));
    expect(badLabel.status.message).toContain('metadata.labels: Invalid value: "not ok!"');

    const badBase64 = await failure(objects.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ssa' }, data: { key: 'not base64!' } }));
    expect(badBase64.code).toBe(400);
    const secret = await objects.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'ssa' }, stringData: { url: 'postgres://db' } } as KubernetesObject);
    expect((secret as { data?: Record<string, string> }).data).toEqual({ url: Buffer.from('postgres://db').toString('base64') });
    const dup = await failure(objects.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'ssa' } }));
    expect(dup.status).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'secrets "db" already exists' });
  });

  it('supports merge, strategic merge and JSON patches, PUT with resourceVersion checks, and 404 Status bodies', async () => {
    const merged = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'ssa', body: { metadata: { annotations: { note: 'x' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(merged.metadata?.annotations?.note).toBe('x');
    const patched = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'ssa', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
    expect(patched.spec?.replicas).toBe(3);
    const smp = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'ssa', body: { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'A', value: '1' }] }] } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(smp.spec?.template.spec?.containers[0]).toMatchObject({ name: 'web', image: 'ghcr.io/acme/web:1.1.0', env: [{ name: 'A', value: '1' }] });

    const stale = { ...smp, metadata: { ...smp.metadata, resourceVersion: '1' } };
    const conflict = await failure(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'ssa', body: stale }));
    expect(conflict.status).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(conflict.status.message).toContain('Operation cannot be fulfilled on deployments.apps "web"');

    const missing = await failure(apps.readNamespacedDeployment({ name: 'nope', namespace: 'ssa' }));
    expect(missing.status).toMatchObject({ code: 404, reason: 'NotFound', message: 'deployments.apps "nope" not found', details: { name: 'nope', group: 'apps', kind: 'deployments' } });
  });

  it('answers 404 for a missing namespace and 403 NamespaceTerminating for one being deleted; deletion completes', async () => {
    const missing = await failure(objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ghost' } }));
    expect(missing.status).toMatchObject({ code: 404, message: 'namespaces "ghost" not found' });

    await apply(namespace('doomed'));
    await apply(deployment('doomed', 'web', 'nginx:1.25', 1));
    await rolledOut('doomed', 'web');
    await core.deleteNamespace({ name: 'doomed' });
    const terminating = await core.readNamespace({ name: 'doomed' });
    expect(terminating.status?.phase).toBe('Terminating');
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    expect(terminating.status?.conditions?.find((c) => c.type === 'NamespaceContentRemaining')?.message).toMatch(/deployments\.apps has 1 resource instances.*pods\. has 1 resource instances/);
    await core.deleteNamespace({ name: 'doomed' });

    const refused = await failure(apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'doomed' } }));
    expect(refused.code).toBe(403);
    expect(refused.status.message).toBe('secrets "s" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    expect(refused.status.details?.causes?.[0]).toMatchObject({ reason: 'NamespaceTerminating', field: 'metadata.namespace' });

    await waitFor('the namespace to go', () => (fake.get('v1', 'Namespace', undefined, 'doomed') ? undefined : true));
    expect((await failure(core.readNamespace({ name: 'doomed' }))).code).toBe(404);
    expect(fake.list('v1', 'Pod', 'doomed')).toEqual([]);
    expect(fake.list('apps/v1', 'Deployment', 'doomed')).toEqual([]);
  });

  it('keeps a held namespace Terminating until released', async () => {
    await apply(namespace('stuck'));
    const hold = fake.holdTerminating('stuck');
    await core.deleteNamespace({ name: 'stuck' });
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.get('v1', 'Namespace', undefined, 'stuck')?.status?.phase).toBe('Terminating');
    hold.release();
    await waitFor('the released namespace to go', () => (fake.get('v1', 'Namespace', undefined, 'stuck') ? undefined : true));
  });

  it('lists by label selector (equality and set-based) and field selector', async () => {
    await apply(namespace('sel-a', { 'ephemera.dev/instance': 'ci', 'ephemera.dev/pr': '1' }));
    await apply(namespace('sel-b', { 'ephemera.dev/instance': 'ci', 'ephemera.dev/pr': '2' }));
    await apply(namespace('sel-c', { 'ephemera.dev/instance': 'other' }));
    const names = async (labelSelector: string) => (await core.listNamespace({ labelSelector })).items.map((n) => n.metadata?.name);
    expect(await names('ephemera.dev/instance=ci')).toEqual(['sel-a', 'sel-b']);
    expect(await names('ephemera.dev/instance==ci,ephemera.dev/pr!=1')).toEqual(['sel-b']);
    expect(await names('ephemera.dev/pr in (1,2)')).toEqual(['sel-a', 'sel-b']);
    expect(await names('ephemera.dev/instance,!ephemera.dev/pr')).toEqual(['sel-c']);
    // notin also matches objects without the label at all, as the API server's selectors do.
    expect(await names('ephemera.dev/instance,ephemera.dev/instance notin (ci)')).toEqual(['sel-c']);
    expect(await names('ephemera.dev/instance notin (ci)')).toContain('default');
    const list = await objects.list('v1', 'Namespace', undefined, undefined, undefined, undefined, 'metadata.name=sel-a');
    expect(list.items.map((n) => n.metadata?.name)).toEqual(['sel-a']);
    expect(list.items[0]).toMatchObject({ apiVersion: 'v1', kind: 'Namespace' });
    expect((await failure(core.listNamespace({ labelSelector: 'a in (' }))).code).toBe(400);
  });

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
    expect(status.restartCount).toBeGreaterThanOrEqual(2);
    expect(status.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    const tail = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll', container: 'web', tailLines: 2, previous: true });
    expect(tail).toBe('Error: connect ECONNREFUSED 10.96.0.15:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)\n');
    const whole = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: 'roll' });
    expect(whole).toContain('Error: connect ECONNREFUSED');
    const backoff = await core.listNamespacedEvent({ namespace: 'roll', fieldSelector: `involvedObject.name=${pod.metadata?.name},reason=BackOff` });
    expect(backoff.items[0]?.message).toMatch(/^Back-off restarting failed container web in pod crash-/);
  });

  it("reports 'ProgressDeadlineExceeded' and the other scripted failures where the real components would", async () => {
    scripts.set('slow', 'ProgressDeadlineExceeded');
    scripts.set('unschedulable', 'FailedScheduling');
    scripts.set('quota', 'FailedCreate');
    await apply(deployment('roll', 'slow', 'ghcr.io/acme/web:1.0.0', 1));
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
    expect(created.message).toMatch(/^Error creating: pods "quota-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: /);
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

  it('fails the next matching requests as told (503, then success)', async () => {
    fake.failNext({ verb: 'list', resource: 'namespaces' }, 503);
    const unavailable = await failure(core.listNamespace());
    expect(unavailable.status).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
    fake.failNext({ verb: 'get', resource: 'namespaces' }, 429);
    const throttled = await failure(core.readNamespace({ name: 'default' }));
    expect(throttled.code).toBe(429);
    expect(throttled.headers['retry-after']).toBe('1');
  });

  it('refuses forbidden verbs with the RBAC message, and says so in SelfSubjectAccessReviews', async () => {
    fake.forbid('list', 'namespaces');
    fake.forbid('get', 'pods/log');
    try {
      const refused = await failure(core.listNamespace());
      expect(refused.status).toMatchObject({
        code: 403,
        reason: 'Forbidden',
        message: 'namespaces is forbidden: User "system:serviceaccount:ephemera:worker" cannot list resource "namespaces" in API group "" at the cluster scope',
      });
      const review = async (verb: string, resource: string, subresource?: string) =>
        (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb, group: '', resource, ...(subresource ? { subresource } : {}), namespace: 'roll' } } } })).status?.allowed;
      expect(await review('list', 'namespaces')).toBe(false);
      expect(await review('get', 'pods', 'log')).toBe(false);
      expect(await review('create', 'namespaces')).toBe(true);
      const log = await failure(core.readNamespacedPodLog({ name: 'any', namespace: 'roll' }));
      expect(log.status.message).toBe('pods "any" is forbidden: User "system:serviceaccount:ephemera:worker" cannot get resource "pods/log" in API group "" in the namespace "roll"');
    } finally {
      fake.allow('list', 'namespaces');
      fake.allow('get', 'pods/log');
    }
  });

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
