import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { apply, apps, authz, core, deployment, failure, fake, namespace, objects, rolledOut, startApi, waitFor } from './api-fixture.js';

/* The client is the official one, unchanged: whatever it accepts here it accepts from a real API server. The
   scripted rollouts are in fake-kubernetes-scripts.test.ts, the controllers' rules in fake-kubernetes-rollouts.test.ts. */

beforeAll(() => startApi({ controllerDelayMs: 15, secondMs: 50, terminatingMs: 80 }));
afterAll(() => fake.close());

describe('fake Kubernetes API server: discovery and server-side apply', () => {
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
});

describe('fake Kubernetes API server: validation and patches', () => {
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
});

describe('fake Kubernetes API server: namespaces and selectors', () => {
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
});

describe('fake Kubernetes API server: injected failures, RBAC and the request log', () => {
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
});
