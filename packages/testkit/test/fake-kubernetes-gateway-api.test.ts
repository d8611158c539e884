import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes } from '../src/fake-kubernetes.js';
import { apply, failure, fake, namespace, objects, startApi, waitFor } from './api-fixture.js';

/* The Gateway API as a cluster with its CRDs serves it, driven by the official client: discovery, apply, the CRDs'
   validation (the messages are the API server's for custom resources). */

const GW = 'gateway.networking.k8s.io/v1';
const CONTROLLER = 'example.net/gateway-controller';
const TOKEN = { authorization: 'Bearer fake-token' };

/* eslint-disable @typescript-eslint/no-explicit-any -- routes and their status are read as plain JSON */
type Obj = Record<string, any>;

interface RouteOptions {
  parentRefs?: Obj[];
  hostnames?: string[];
  rules?: Obj[];
  labels?: Record<string, string>;
}

const previewsRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'previews', sectionName: 'https' };

function route(ns: string, name: string, o: RouteOptions = {}): KubernetesObject & Obj {
  return {
    apiVersion: GW,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, labels: o.labels ?? { 'app.kubernetes.io/managed-by': 'ephemera' } },
    spec: {
      parentRefs: o.parentRefs ?? [previewsRef],
      hostnames: o.hostnames ?? [`${ns}.preview.example.com`],
      rules: o.rules ?? [
        { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 8080 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port: 3000 }] },
      ],
    },
  };
}


function gateway(name: string, listeners: Obj[], className = 'previews') {
  return { apiVersion: GW, kind: 'Gateway', metadata: { name, namespace: 'gateway-system' }, spec: { gatewayClassName: className, listeners } };
}

const read = (kind: string, ns: string | undefined, name: string) => objects.read({ apiVersion: GW, kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } }) as Promise<Obj>;

beforeAll(async () => {
  await startApi({ gatewayApi: {}, controllerDelayMs: 10, secondMs: 50, terminatingMs: 50 });
  fake.seed(namespace('gateway-system'));
  fake.seed({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'previews' }, spec: { controllerName: CONTROLLER } });
  fake.seed({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'other' }, spec: { controllerName: 'other.example.com/controller' } });
  const tls = { certificateRefs: [{ name: 'preview-wildcard' }] };
  fake.seed(gateway('previews', [
    { name: 'https', protocol: 'HTTPS', port: 443, hostname: '*.preview.example.com', tls, allowedRoutes: { namespaces: { from: 'All' } } },
    { name: 'http', protocol: 'HTTP', port: 80 },
  ]));
  fake.seed(gateway('labelled', [{ name: 'https', protocol: 'HTTPS', port: 443, tls, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'ephemera.dev/preview': 'true' } } } } }]));
  fake.seed(gateway('foreign', [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }], 'other'));
});
afterAll(() => fake.close());

describe('the Gateway API group', () => {
  it('is in discovery, listed as apiextensions-apiserver lists CRD resources, only when the server serves it', async () => {
    const groups = (await (await fetch(`${fake.url}/apis`, { headers: TOKEN })).json()) as { groups: Obj[] };
    expect(groups.groups.at(-1)).toEqual({ name: 'gateway.networking.k8s.io', versions: [{ groupVersion: GW, version: 'v1' }], preferredVersion: { groupVersion: GW, version: 'v1' } });
    const list = (await (await fetch(`${fake.url}/apis/${GW}`, { headers: TOKEN })).json()) as { groupVersion: string; resources: Obj[] };
    const verbs = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
    expect(list.groupVersion).toBe(GW);
    expect(list.resources.map((r) => r.name)).toEqual(['gatewayclasses', 'gatewayclasses/status', 'gateways', 'gateways/status', 'httproutes', 'httproutes/status']);
    expect(list.resources[4]).toEqual({ name: 'httproutes', singularName: 'httproute', namespaced: true, kind: 'HTTPRoute', verbs, categories: ['gateway-api'], storageVersionHash: expect.any(String) });
    expect(list.resources[0]).toMatchObject({ name: 'gatewayclasses', namespaced: false, shortNames: ['gc'], categories: ['gateway-api'] });
    expect(list.resources[5]).toEqual({ name: 'httproutes/status', singularName: '', namespaced: true, kind: 'HTTPRoute', verbs: ['get', 'patch', 'update'] });

    const plain = await startFakeKubernetes();
    try {
      const without = (await (await fetch(`${plain.url}/apis`, { headers: TOKEN })).json()) as { groups: Obj[] };
      expect(without.groups.map((g) => g.name)).not.toContain('gateway.networking.k8s.io');
      for (const path of ['/apis/gateway.networking.k8s.io', `/apis/${GW}`, `/apis/${GW}/namespaces/default/httproutes/web`]) {
        const res = await fetch(`${plain.url}${path}`, { headers: TOKEN });
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 });
      }
      expect(() => plain.seed(route('default', 'web'))).toThrow(`fake-kubernetes serves no ${GW} HTTPRoute`);
    } finally {
      await plain.close();
    }
  });

  it('applies, reads, lists, watches and deletes an HTTPRoute: defaults filled in, generation bumped by spec changes only, lists replaced whole', async () => {
    await apply(namespace('route-crud'));
    const kc = new KubeConfig();
    kc.loadFromString(fake.kubeconfig);
    const events: string[] = [];
    const watch = await new Watch(kc).watch(`/apis/${GW}/namespaces/route-crud/httproutes`, {}, (type: string, o: Obj) => void events.push(`${type} ${o.metadata.name} ${o.metadata.generation}`), () => undefined);
    const created = (await apply(route('route-crud', 'ephemera-preview'))) as Obj;
    expect(created.metadata.generation).toBe(1);
    expect(created.spec.parentRefs).toEqual([previewsRef]);
    expect(created.spec.rules[0].backendRefs).toEqual([{ group: '', kind: 'Service', name: 'api', port: 8080, weight: 1 }]);
    // Atomic lists are owned whole, as the CRD's schema declares them: no per-item `k:` entries.
    expect(created.metadata.managedFields[0]).toMatchObject({ manager: 'ephemera', operation: 'Apply' });
    expect(created.metadata.managedFields[0].fieldsV1['f:spec']).toEqual({ 'f:parentRefs': {}, 'f:rules': {}, 'f:hostnames': {} });

    // Applying the same configuration again changes nothing.
    const settled = await read('HTTPRoute', 'route-crud', 'ephemera-preview');
    const again = (await apply(route('route-crud', 'ephemera-preview'))) as Obj;
    expect(again.metadata.resourceVersion).toBe(settled.metadata.resourceVersion);
    const relabelled = (await apply(route('route-crud', 'ephemera-preview', { labels: { 'app.kubernetes.io/managed-by': 'ephemera', pr: '7' } }))) as Obj;
    expect(relabelled.metadata.generation).toBe(1);

    // One backend fewer and a parentRef without sectionName: the atomic lists are the applied ones, not merged by name.
    const changed = (await apply(route('route-crud', 'ephemera-preview', {
      labels: { 'app.kubernetes.io/managed-by': 'ephemera', pr: '7' },
      parentRefs: [{ namespace: 'gateway-system', name: 'previews' }],
      rules: [{ backendRefs: [{ name: 'web', port: 3000 }] }],
    }))) as Obj;
    expect(changed.metadata.generation).toBe(2);
    expect(changed.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'previews' }]);
    expect(changed.spec.rules).toEqual([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ group: '', kind: 'Service', name: 'web', port: 3000, weight: 1 }] }]);

    // Another manager forcing its parentRefs takes the list whole: nothing of the first manager's list stays.
    const other = route('route-crud', 'ephemera-preview', { parentRefs: [{ namespace: 'gateway-system', name: 'labelled' }] });
    const taken = (await objects.patch({ apiVersion: GW, kind: 'HTTPRoute', metadata: { name: 'ephemera-preview', namespace: 'route-crud' }, spec: { parentRefs: other.spec.parentRefs } }, undefined, undefined, 'operator', true, PatchStrategy.ServerSideApply)) as Obj;
    expect(taken.spec.parentRefs.map((p: Obj) => p.name)).toEqual(['labelled']);
    expect(taken.metadata.generation).toBe(3);

    const listed = await objects.list(GW, 'HTTPRoute', 'route-crud', undefined, undefined, undefined, undefined, 'pr=7');
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(['ephemera-preview']);
    expect((await objects.list(GW, 'HTTPRoute', 'route-crud', undefined, undefined, undefined, undefined, 'pr=8')).items).toEqual([]);

    const smp = await fetch(`${fake.url}/apis/${GW}/namespaces/route-crud/httproutes/ephemera-preview`, {
      method: 'PATCH',
      headers: { ...TOKEN, 'content-type': 'application/strategic-merge-patch+json' },
      body: JSON.stringify({ spec: { hostnames: ['x.preview.example.com'] } }),
    });
    expect(smp.status).toBe(415);

    await objects.delete(route('route-crud', 'ephemera-preview'));
    await waitFor('the DELETED event', () => events.some((e) => e.startsWith('DELETED')) || undefined);
    watch.abort();
    expect(events[0]).toBe('ADDED ephemera-preview 1');
    expect(events.at(-1)).toBe('DELETED ephemera-preview 3');
    const gone = await failure(read('HTTPRoute', 'route-crud', 'ephemera-preview'));
    expect(gone.code).toBe(404);
    expect(gone.status.message).toBe('httproutes.gateway.networking.k8s.io "ephemera-preview" not found');
  });

  it("refuses what the CRD's schema and rules refuse, with the API server's messages", async () => {
    await apply(namespace('route-invalid'));
    const badPath = await failure(apply(route('route-invalid', 'relative', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'api' } }], backendRefs: [{ name: 'api', port: 8080 }] }] })));
    expect(badPath.code).toBe(422);
    expect(badPath.status.message).toBe(
      `HTTPRoute.gateway.networking.k8s.io "relative" is invalid: spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`,
    );
    expect(badPath.status.details).toMatchObject({ name: 'relative', group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' });

    const dotted = await failure(apply(route('route-invalid', 'dotted', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/a//b/.' } }], backendRefs: [{ name: 'api', port: 8080 }] }] })));
    expect(dotted.status.details?.causes?.map((c) => c.message)).toEqual([
      `Invalid value: "object": must not contain '//' when type one of ['Exact', 'PathPrefix']`,
      `Invalid value: "object": must not end with '/.' when type one of ['Exact', 'PathPrefix']`,
    ]);

    const host = await failure(apply(route('route-invalid', 'host', { hostnames: ['Preview_7.example.com'] })));
    expect(host.status.details?.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.hostnames[0]',
        message: `Invalid value: "Preview_7.example.com": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`,
      },
    ]);

    const many = await failure(apply(route('route-invalid', 'many', { hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.preview.example.com`) })));
    expect(many.status.message).toBe(
      'HTTPRoute.gateway.networking.k8s.io "many" is invalid: [spec.hostnames: Too many: 17: must have at most 16 items, <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]',
    );

    const portless = await failure(apply(route('route-invalid', 'portless', { rules: [{ backendRefs: [{ name: 'api' }] }] })));
    expect(portless.status.message).toContain('spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference');
    const twice = await failure(apply(route('route-invalid', 'twice', { parentRefs: [{ name: 'previews', namespace: 'gateway-system' }, { name: 'previews', namespace: 'gateway-system' }] })));
    expect(twice.status.message).toContain('spec.parentRefs: Invalid value: "array": sectionName must be unique when parentRefs includes 2 or more references to the same parent');
    expect(fake.list(GW, 'HTTPRoute', 'route-invalid')).toEqual([]);
  });
});

describe('the Gateway API under RBAC', () => {
  it('is authorized like any other group', async () => {
    const rbacFake: FakeKubernetes = await startFakeKubernetes({ authorization: 'rbac', gatewayApi: {}, controllerDelayMs: 5 });
    try {
      rbacFake.seed(namespace('preview-rbac'));
      rbacFake.seed({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'routes', namespace: 'preview-rbac' },
        rules: [{ apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'create', 'patch', 'delete'] }],
      });
      rbacFake.seed({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'routes', namespace: 'preview-rbac' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'routes' },
        subjects: [{ kind: 'ServiceAccount', name: 'worker', namespace: 'ephemera' }],
      });
      const kc = new KubeConfig();
      kc.loadFromString(rbacFake.kubeconfig);
      const client = KubernetesObjectApi.makeApiClient(kc);
      const applied = (await client.patch(route('preview-rbac', 'ephemera-preview'), undefined, undefined, 'ephemera', true, PatchStrategy.ServerSideApply)) as Obj;
      expect(applied.metadata.generation).toBe(1);
      const refused = await failure(client.read({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'previews', namespace: 'gateway-system' } }));
      expect(refused.code).toBe(403);
      expect(refused.status.message).toBe(
        'gateways.gateway.networking.k8s.io "previews" is forbidden: User "system:serviceaccount:ephemera:worker" cannot get resource "gateways" in API group "gateway.networking.k8s.io" in the namespace "gateway-system"',
      );
      expect((await failure(kc.makeApiClient(CoreV1Api).readNamespace({ name: 'preview-rbac' }))).code).toBe(403);
    } finally {
      await rbacFake.close();
    }
  });
});
