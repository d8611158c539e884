import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { parsePreviewConfig } from '@ephemera/schema';
import { startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { GATEWAY_ENV, KUBE_SECOND_MS, directProvisioner, directTarget } from './kube-provisioner.js';
import type { EnvOverrides } from './worker-settings.js';

// PREVIEW_ROUTING=gateway against the fake API server and its Gateway controller, which decides as the Gateway API
// specifies (listeners' allowedRoutes and hostnames, backend references) and writes the route's status.parents.

const CONTROLLER = 'example.net/gateway-controller';
const ROUTE = 'ephemera-preview';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A wildcard HTTPS listener for the preview domain, admitting routes from namespaces Ephemera manages (or `from`). */
function seedGateway(fake: FakeKubernetes, listener: Record<string, unknown> = {}): void {
  fake.seed({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'previews', namespace: 'gateway-system' },
    spec: {
      gatewayClassName: 'previews',
      listeners: [
        {
          name: 'https',
          port: 443,
          protocol: 'HTTPS',
          hostname: '*.preview.test',
          tls: { mode: 'Terminate', certificateRefs: [{ name: 'preview-wildcard' }] },
          allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'app.kubernetes.io/managed-by': 'ephemera' } } } },
          ...listener,
        },
      ],
    },
  });
}

let fake: FakeKubernetes;
beforeEach(async () => {
  fake = await startFakeKubernetes({ terminatingMs: 20, controllerDelayMs: 5, secondMs: KUBE_SECOND_MS, gatewayApi: { controllerName: CONTROLLER } });
  fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gateway-system' } });
  fake.seed({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'previews' }, spec: { controllerName: CONTROLLER } });
});
afterEach(() => fake.close());

/** The provisioner on the test's fake API, with the worker's environment `env` (default: routed by the Gateway). */
function make(env: EnvOverrides = GATEWAY_ENV) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
  dirs.push(dir);
  return directProvisioner(new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 }), 'gw', env);
}

function config(text: string) {
  const parsed = parsePreviewConfig(text, { maxReplicas: 3 });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return { file: '.ephemera.yml', config: parsed.config };
}
const WEB = config('version: 1\nservices:\n  web:\n    image: ghcr.io/acme/web:{{sha}}\n    port: 3000\ntimeout_seconds: 600\n');
const signal = new AbortController().signal;
const logged = () => {
  const lines: string[] = [];
  return { lines, log: (line: string) => void lines.push(line) };
};
const routeIn = (namespace: string) => fake.get('gateway.networking.k8s.io/v1', 'HTTPRoute', namespace, ROUTE);

describe('previews routed by an HTTPRoute on the operator\'s Gateway', () => {
  it('READY only once the Gateway accepts the route; the route is the one the worker rendered, with nothing copied for TLS', async () => {
    seedGateway(fake);
    // A controller that has not looked at the route yet: the deploy waits.
    fake.setGatewayScript(() => 'ignore');
    const target = directTarget(1, 'gw', 'a'.repeat(40), WEB);
    const { lines, log } = logged();
    let done = false;
    const deploy = make().provision(target, log, signal).finally(() => (done = true));
    // The rollout finishes; the deploy then waits on the route, saying why.
    const waiting = `HTTPRoute ${ROUTE} on Gateway gateway-system/previews: no status from its controller`;
    const deadline = Date.now() + 10_000;
    while (!lines.includes(waiting) && !done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(lines).toContain('web: deployment "web" successfully rolled out');
    expect(lines).toContain(waiting);
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    fake.setGatewayScript(undefined);
    await expect(deploy).resolves.toEqual({ url: `https://${target.namespace}.preview.test` });
    expect(lines).toContain(`HTTPRoute ${ROUTE} accepted by Gateway gateway-system/previews`);

    const route = routeIn(target.namespace);
    expect(() => new HTTPRoute(route).validate()).not.toThrow();
    expect(route.spec.hostnames).toEqual([`${target.namespace}.preview.test`]);
    const parent = route.status.parents.find((p: { controllerName: string }) => p.controllerName === CONTROLLER);
    expect(Object.fromEntries(parent.conditions.map((c: { type: string; status: string }) => [c.type, c.status]))).toMatchObject({ Accepted: 'True', ResolvedRefs: 'True' });
    expect(fake.list('networking.k8s.io/v1', 'Ingress', target.namespace)).toEqual([]);
    expect(fake.list('v1', 'Secret', target.namespace)).toEqual([]);
    // The data plane's namespace, and only it besides the preview's own, may connect.
    const policy = fake.get('networking.k8s.io/v1', 'NetworkPolicy', target.namespace, 'ephemera-isolation');
    expect(JSON.stringify(policy.spec.ingress)).toContain('"kubernetes.io/metadata.name":"gateway-system"');
    expect(JSON.stringify(policy.spec.ingress)).not.toContain('ingress-nginx');
  });

  it('a route the Gateway refuses fails the deploy with the controller\'s reason and message', async () => {
    // The listener admits only routes of its own namespace (allowedRoutes from Same, the default).
    seedGateway(fake, { allowedRoutes: { namespaces: { from: 'Same' } } });
    const target = directTarget(2, 'gw', 'a'.repeat(40), WEB);
    const started = Date.now();
    await expect(make().provision(target, () => {}, signal)).rejects.toThrow(/^Gateway gateway-system\/previews refused HTTPRoute ephemera-preview: NotAllowedByListeners/);
    // Well before the rollout's timeout (600 scaled seconds and its grace).
    expect(Date.now() - started).toBeLessThan(600 * KUBE_SECOND_MS);

    // A listener for another domain: no hostname in common.
    seedGateway(fake, { hostname: '*.staging.test' });
    await expect(make().provision(directTarget(3, 'gw', 'a'.repeat(40), WEB), () => {}, signal)).rejects.toThrow(
      /^Gateway gateway-system\/previews refused HTTPRoute ephemera-preview: NoMatchingListenerHostname/,
    );
  });

  it('a Gateway that does not exist fails the deploy at once, naming it, before anything is applied', async () => {
    const target = directTarget(4, 'gw', 'a'.repeat(40), WEB);
    await expect(make().provision(target, () => {}, signal)).rejects.toThrow('Gateway gateway-system/previews (PREVIEW_GATEWAY) does not exist');
    expect(fake.get('v1', 'Namespace', undefined, target.namespace)).toBeUndefined();
    await expect(make().checkAccess()).rejects.toThrow('PREVIEW_ROUTING=gateway: Gateway gateway-system/previews (PREVIEW_GATEWAY) does not exist');
  });

  it('a listener named by PREVIEW_GATEWAY_SECTION: the route attaches to it alone', async () => {
    seedGateway(fake);
    const target = directTarget(5, 'gw', 'a'.repeat(40), WEB);
    await make({ ...GATEWAY_ENV, PREVIEW_GATEWAY_SECTION: 'https' }).provision(target, () => {}, signal);
    expect(routeIn(target.namespace).spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'previews', sectionName: 'https' }]);
    await expect(make({ ...GATEWAY_ENV, PREVIEW_GATEWAY_SECTION: 'http' }).provision(directTarget(6, 'gw', 'a'.repeat(40), WEB), () => {}, signal)).rejects.toThrow(
      /refused HTTPRoute ephemera-preview: NoMatchingParent/,
    );
  });

  it('a multi-route preview: one rule per path, longest first, each to its service', async () => {
    seedGateway(fake);
    const target = directTarget(7, 'gw', 'a'.repeat(40), config(
      'version: 1\nservices:\n  web:\n    image: ghcr.io/acme/web:{{sha}}\n    port: 3000\n  api:\n    image: ghcr.io/acme/api:{{sha}}\n    port: 8080\nroutes:\n  - { path: /, service: web }\n  - { path: /api, service: api }\ntimeout_seconds: 600\n',
    ));
    await make().provision(target, () => {}, signal);
    const rules = routeIn(target.namespace).spec.rules as Array<{ matches: Array<{ path: { type: string; value: string } }>; backendRefs: Array<{ name: string; port: number }> }>;
    expect(rules.map((r) => [r.matches[0]!.path.type, r.matches[0]!.path.value, r.backendRefs[0]!.name, r.backendRefs[0]!.port])).toEqual([
      ['PathPrefix', '/api', 'api', 8080],
      ['PathPrefix', '/', 'web', 3000],
    ]);
  });

  it('switching PREVIEW_ROUTING moves a preview on its next deploy: the new route applied, then the old kind pruned', async () => {
    seedGateway(fake);
    const target = directTarget(8, 'gw', 'a'.repeat(40), WEB);
    // PREVIEW_ROUTING's default: an Ingress.
    const ingress = make({});
    await ingress.provision(target, () => {}, signal);
    expect(fake.list('networking.k8s.io/v1', 'Ingress', target.namespace).map((o) => o.metadata.name)).toEqual([ROUTE]);
    expect(routeIn(target.namespace)).toBeUndefined();

    const { lines, log } = logged();
    await make().update({ ...target, commitSha: 'b'.repeat(40), configSha: 'b'.repeat(40) }, log, signal);
    expect(routeIn(target.namespace)).toBeDefined();
    expect(fake.list('networking.k8s.io/v1', 'Ingress', target.namespace)).toEqual([]);
    const applied = fake.requests.findIndex((r) => r.resource === 'httproutes' && r.verb === 'patch' && r.namespace === target.namespace);
    const pruned = fake.requests.findIndex((r) => r.resource === 'ingresses' && r.verb === 'delete' && r.namespace === target.namespace);
    expect(applied).toBeGreaterThan(-1);
    expect(pruned).toBeGreaterThan(applied);
    expect(lines).toContain(`removed Ingress/${ROUTE} (no longer in the configuration)`);

    // And back: the HTTPRoute goes once the Ingress is there again.
    await ingress.update({ ...target, commitSha: 'c'.repeat(40), configSha: 'c'.repeat(40) }, () => {}, signal);
    expect(routeIn(target.namespace)).toBeUndefined();
    expect(fake.list('networking.k8s.io/v1', 'Ingress', target.namespace).map((o) => o.metadata.name)).toEqual([ROUTE]);
  });
});
