import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes } from '../src/fake-kubernetes.js';
import { apply, failure, fake, namespace, objects, startApi, waitFor } from './api-fixture.js';

/* The Gateway API as a cluster with its CRDs serves it, driven by the official client: discovery, apply, the CRDs'
   validation (the messages are the API server's for custom resources), and a Gateway implementation's controller
   writing route, Gateway and GatewayClass status by the specification's rules. */

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

const service = (ns: string, name: string, port: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ port }] } });

function gateway(name: string, listeners: Obj[], className = 'previews') {
  return { apiVersion: GW, kind: 'Gateway', metadata: { name, namespace: 'gateway-system' }, spec: { gatewayClassName: className, listeners } };
}

/** A preview namespace with the Services the default route sends to. */
async function preview(ns: string, labels: Record<string, string> = {}): Promise<void> {
  await apply(namespace(ns, labels));
  await apply(service(ns, 'api', 8080));
  await apply(service(ns, 'web', 3000));
}

const read = (kind: string, ns: string | undefined, name: string) => objects.read({ apiVersion: GW, kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } }) as Promise<Obj>;

/** The route's status.parents once `done` holds for it. */
async function parents(ns: string, name: string, done: (parents: Obj[], route: Obj) => boolean): Promise<Obj[]> {
  return waitFor(`${ns}/${name}'s status`, async () => {
    const r = await read('HTTPRoute', ns, name);
    const p: Obj[] = r.status?.parents ?? [];
    return done(p, r) ? p : undefined;
  });
}

const condition = (entry: Obj | undefined, type: string): Obj | undefined => entry?.conditions?.find((c: Obj) => c.type === type);
const accepted = (p: Obj[]) => condition(p[0], 'Accepted');

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

    // Once the controller has written its status, applying the same configuration again changes nothing.
    await parents('route-crud', 'ephemera-preview', (p) => p.length > 0);
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

describe('the Gateway controller', () => {
  it('accepts a route on its Gateway, and says so on the route, the listener and the GatewayClass', async () => {
    await preview('preview-acme-web-pr-7');
    await apply(route('preview-acme-web-pr-7', 'ephemera-preview'));
    const status = await parents('preview-acme-web-pr-7', 'ephemera-preview', (p) => p.length > 0);
    expect(status).toEqual([
      {
        parentRef: previewsRef,
        controllerName: CONTROLLER,
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Route is accepted', observedGeneration: 1, lastTransitionTime: expect.any(String) },
          { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'Resolved all the Object references for the Route', observedGeneration: 1, lastTransitionTime: expect.any(String) },
        ],
      },
    ]);

    const gw = await waitFor('the listener to count the route', async () => {
      const g = await read('Gateway', 'gateway-system', 'previews');
      return g.status?.listeners?.find((l: Obj) => l.name === 'https')?.attachedRoutes >= 1 ? g : undefined;
    });
    const https = gw.status.listeners.find((l: Obj) => l.name === 'https');
    expect(https.supportedKinds).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
    expect(https.conditions.map((c: Obj) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Programmed=True', 'ResolvedRefs=True', 'Conflicted=False']);
    // sectionName https: the http listener does not count it.
    expect(gw.status.listeners.find((l: Obj) => l.name === 'http').attachedRoutes).toBe(0);
    expect(gw.status.conditions.map((c: Obj) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Accepted=True:Accepted', 'Programmed=True:Programmed']);
    const gc = await read('GatewayClass', undefined, 'previews');
    expect(gc.status.conditions.map((c: Obj) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Accepted=True:Accepted', 'SupportedVersion=True:SupportedVersion']);
    expect((await read('GatewayClass', undefined, 'other')).status.conditions[0]).toMatchObject({ status: 'Unknown', reason: 'Pending' });

    // A new generation: observedGeneration follows, lastTransitionTime stays while the status does.
    const firstTransition = accepted(status)!.lastTransitionTime;
    await apply(route('preview-acme-web-pr-7', 'ephemera-preview', { hostnames: ['preview-acme-web-pr-7.preview.example.com', 'api-pr-7.preview.example.com'] }));
    const second = await parents('preview-acme-web-pr-7', 'ephemera-preview', (p) => accepted(p)?.observedGeneration === 2);
    expect(accepted(second)).toMatchObject({ status: 'True', lastTransitionTime: firstTransition });
  });

  it('refuses a route its listeners do not allow, until the namespace gains the label a Selector wants', async () => {
    await preview('preview-same');
    const internal = { ...previewsRef, sectionName: 'http' };
    await apply(route('preview-same', 'same', { parentRefs: [internal], hostnames: [] }));
    const same = await parents('preview-same', 'same', (p) => p.length > 0);
    expect(accepted(same)).toMatchObject({
      status: 'False',
      reason: 'NotAllowedByListeners',
      message: 'No listeners included by this parent ref allowed this attachment: listener "http" allows routes from its own namespace "gateway-system" only, not from "preview-same"',
    });

    const labelledRef = { ...previewsRef, name: 'labelled' };
    await apply(route('preview-same', 'selected', { parentRefs: [labelledRef] }));
    const before = await parents('preview-same', 'selected', (p) => p.length > 0);
    expect(accepted(before)).toMatchObject({ status: 'False', reason: 'NotAllowedByListeners' });
    expect(accepted(before)!.message).toContain('listener "https" allows routes from namespaces matching ephemera.dev/preview=true, which namespace "preview-same" does not');

    await apply(namespace('preview-same', { 'ephemera.dev/preview': 'true' }));
    const after = await parents('preview-same', 'selected', (p) => accepted(p)?.status === 'True');
    expect(accepted(after)).toMatchObject({ reason: 'Accepted', observedGeneration: 1 });
  });

  it('refuses hostnames no listener serves, and parent refs naming no listener', async () => {
    await preview('preview-hosts');
    await apply(route('preview-hosts', 'elsewhere', { hostnames: ['preview.other.example.com', 'preview.example.com'] }));
    const elsewhere = await parents('preview-hosts', 'elsewhere', (p) => p.length > 0);
    expect(accepted(elsewhere)).toMatchObject({ status: 'False', reason: 'NoMatchingListenerHostname' });
    expect(accepted(elsewhere)!.message).toContain('route hostnames preview.other.example.com, preview.example.com; listeners "https" (*.preview.example.com)');

    await apply(route('preview-hosts', 'deep', { hostnames: ['a.b.preview.example.com'] }));
    expect(accepted(await parents('preview-hosts', 'deep', (p) => p.length > 0))).toMatchObject({ status: 'True' });

    await apply(route('preview-hosts', 'typo', { parentRefs: [{ ...previewsRef, sectionName: 'htps' }] }));
    const typo = await parents('preview-hosts', 'typo', (p) => p.length > 0);
    expect(accepted(typo)).toMatchObject({ status: 'False', reason: 'NoMatchingParent', message: 'No listeners match this parent ref: Gateway gateway-system/previews has no listener named "htps"' });
  });

  it("writes nothing for Gateways that do not exist or that it does not own, and keeps other controllers' entries", async () => {
    await preview('preview-parents');
    const missing = { ...previewsRef, name: 'gone', sectionName: undefined };
    const foreign = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'foreign' };
    await apply(route('preview-parents', 'several', { parentRefs: [missing, foreign, previewsRef] }));
    const entries = await parents('preview-parents', 'several', (p) => p.length > 0);
    expect(entries.map((e) => e.parentRef.name)).toEqual(['previews']);

    const theirs = { parentRef: foreign, controllerName: 'other.example.com/controller', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'fine', lastTransitionTime: '2024-01-01T00:00:00Z' }] };
    const res = await fetch(`${fake.url}/apis/${GW}/namespaces/preview-parents/httproutes/several/status`, {
      method: 'PATCH',
      headers: { ...TOKEN, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { parents: [...entries, theirs] } }),
    });
    expect(res.status).toBe(200);
    await apply(route('preview-parents', 'several', { parentRefs: [missing, foreign, previewsRef], hostnames: ['pr.preview.example.com'] }));
    const kept = await parents('preview-parents', 'several', (p) => p.some((e) => condition(e, 'Accepted')?.observedGeneration === 2));
    expect(kept.map((e) => e.controllerName)).toEqual(['other.example.com/controller', CONTROLLER]);

    // Its own entry goes once the route no longer names its Gateway.
    await apply(route('preview-parents', 'several', { parentRefs: [foreign] }));
    expect(await parents('preview-parents', 'several', (p) => p.length === 1)).toEqual([theirs]);
  });

  it('says BackendNotFound until the Service exists, and names it', async () => {
    await apply(namespace('preview-late'));
    await apply(service('preview-late', 'web', 3000));
    await apply(route('preview-late', 'ephemera-preview'));
    const missing = await parents('preview-late', 'ephemera-preview', (p) => p.length > 0);
    expect(condition(missing[0], 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'BackendNotFound', message: 'Service preview-late/api not found' });
    expect(accepted(missing)).toMatchObject({ status: 'True' });

    await apply({ ...service('preview-late', 'api', 9090) });
    const wrongPort = await parents('preview-late', 'ephemera-preview', (p) => condition(p[0], 'ResolvedRefs')?.message !== 'Service preview-late/api not found');
    expect(condition(wrongPort[0], 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'BackendNotFound', message: 'Service preview-late/api has no port 8080' });

    await apply(service('preview-late', 'api', 8080));
    const resolved = await parents('preview-late', 'ephemera-preview', (p) => condition(p[0], 'ResolvedRefs')?.status === 'True');
    expect(condition(resolved[0], 'ResolvedRefs')).toMatchObject({ reason: 'ResolvedRefs', observedGeneration: 1 });

    await apply(route('preview-late', 'cross', { rules: [{ backendRefs: [{ name: 'api', namespace: 'preview-acme-web-pr-7', port: 8080 }] }] }));
    const cross = await parents('preview-late', 'cross', (p) => p.length > 0);
    expect(condition(cross[0], 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });

  it("follows the test's script: a stalled controller, a custom refusal, one that never gets to the route", async () => {
    await preview('preview-scripted');
    fake.setGatewayScript((r) => {
      if (r.metadata.name === 'stalled') return { accepted: { status: 'Unknown', reason: 'Pending', message: 'Waiting for controller' } };
      if (r.metadata.name === 'refused') return { accepted: { status: 'False', reason: 'PolicyDenied', message: 'previews are closed' } };
      if (r.metadata.name === 'ignored') return 'ignore';
      return undefined;
    });
    try {
      for (const name of ['stalled', 'refused', 'ignored', 'plain']) await apply(route('preview-scripted', name));
      await parents('preview-scripted', 'plain', (p) => p.length > 0);
      expect(accepted(await parents('preview-scripted', 'stalled', (p) => p.length > 0))).toMatchObject({ status: 'Unknown', reason: 'Pending', message: 'Waiting for controller' });
      const refused = await parents('preview-scripted', 'refused', (p) => p.length > 0);
      expect(accepted(refused)).toMatchObject({ status: 'False', reason: 'PolicyDenied' });
      expect(condition(refused[0], 'ResolvedRefs')).toMatchObject({ status: 'True' });
      expect((await read('HTTPRoute', 'preview-scripted', 'ignored')).status).toBeUndefined();
    } finally {
      fake.setGatewayScript(undefined);
    }
    // Without the script the rules decide again, for the routes it held back too.
    expect(accepted(await parents('preview-scripted', 'stalled', (p) => accepted(p)?.status === 'True'))).toMatchObject({ reason: 'Accepted' });
    expect(accepted(await parents('preview-scripted', 'ignored', (p) => p.length > 0))).toMatchObject({ status: 'True' });
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
