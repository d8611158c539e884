/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are arbitrary Kubernetes JSON */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { namespaceFor, parsePreviewConfig } from '@ephemera/schema';
import { admitWithPolicies, startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { KubeApi } from '../../../services/worker/src/provisioners/kubernetes/kube-api.js';
import { CLUSTER_PERMISSIONS, PREVIEW_NAMESPACE_PERMISSIONS, gatewayPermission, permissionKeys } from '../../../services/worker/src/provisioners/kubernetes/kubernetes-permissions.js';
import { KubernetesProvisioner } from '../../../services/worker/src/provisioners/kubernetes/kubernetes-provisioner.js';
import { previewRoleBinding } from '../../../services/worker/src/provisioners/kubernetes/preview-role-binding.js';
import type { PreviewConfigSource } from '../../../services/worker/src/provisioners/preview-config-source.js';
import type { ProvisionTarget } from '../../../services/worker/src/provisioners/provisioner.js';
import { GATEWAY_ENV, kubeSettings } from '../../../services/worker/test/kube-provisioner.js';
import type { EnvOverrides } from '../../../services/worker/test/worker-settings.js';
import { kustomizeBuild, type KubeObject } from './kustomize.js';

// The worker's rights as deploy/kubernetes ships them: the roles against the provisioner's permission tables, and the
// provisioner's whole lifecycle run with those rights alone, against a fake API server that authorizes every request
// by the RBAC objects it holds and admits it through the shipped ValidatingAdmissionPolicies.

const KUBE = fileURLToPath(new URL('../../../deploy/kubernetes/', import.meta.url));
const TREES = ['base', 'production', 'gateway', 'try'] as const;
const rendered: Record<(typeof TREES)[number], KubeObject[]> = {
  base: kustomizeBuild(path.join(KUBE, 'base')),
  production: kustomizeBuild(path.join(KUBE, 'overlays/production')),
  gateway: kustomizeBuild(path.join(KUBE, 'overlays/gateway')),
  try: kustomizeBuild(path.join(KUBE, 'overlays/try')),
};
const sourceSecrets = kustomizeBuild(path.join(KUBE, 'source-secrets'));
const previewGateway = kustomizeBuild(path.join(KUBE, 'preview-gateway'));
const find = (objects: KubeObject[], kind: string, name: string): any => objects.find((o) => o.kind === kind && o.metadata.name === name);

const WORKER = 'system:serviceaccount:ephemera:ephemera-worker';
const WORKER_SUBJECT = { kind: 'ServiceAccount', name: 'ephemera-worker', namespace: 'ephemera' };
const RBAC_KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/** `verb group/resource[:name]` of every rule of a role, one per verb and name. */
function grants(role: any): string[] {
  return role.rules.flatMap((r: any) =>
    r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.flatMap((v: string) => (r.resourceNames ?? ['']).map((n: string) => `${v} ${g}/${res}${n ? `:${n}` : ''}`)))),
  );
}

describe('the worker\'s roles', () => {
  it.each(TREES)('%s: ClusterRoles ephemera-provisioner and ephemera-preview are the permission tables exactly; only the first is bound cluster-wide', (tree) => {
    const objects = rendered[tree];
    const provisioner = find(objects, 'ClusterRole', 'ephemera-provisioner');
    const preview = find(objects, 'ClusterRole', 'ephemera-preview');
    expect(grants(provisioner).sort()).toEqual(permissionKeys(CLUSTER_PERMISSIONS).sort());
    expect(grants(preview).sort()).toEqual(permissionKeys(PREVIEW_NAMESPACE_PERMISSIONS).sort());
    for (const role of [provisioner, preview]) {
      expect(role.aggregationRule).toBeUndefined();
      for (const rule of role.rules) {
        expect(rule.nonResourceURLs).toBeUndefined();
        expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
      }
    }
    // ephemera-preview is bound by the worker itself, namespace by namespace: never cluster-wide.
    const bindings = objects.filter((o: any) => ['ClusterRoleBinding', 'RoleBinding'].includes(o.kind)) as any[];
    expect(bindings.map((b) => `${b.kind}/${b.metadata.name} -> ${b.roleRef.kind}/${b.roleRef.name}`)).toEqual(['ClusterRoleBinding/ephemera-provisioner -> ClusterRole/ephemera-provisioner']);
    expect(bindings[0].subjects).toEqual([WORKER_SUBJECT]);
  });

  it('no rule anywhere lists, watches or reads every Secret, escalates or impersonates', () => {
    const all = [...TREES.flatMap((t) => rendered[t]), ...sourceSecrets, ...previewGateway].filter((o) => ['ClusterRole', 'Role'].includes(o.kind));
    const keys = all.flatMap((r) => grants(r).map((g) => `${r.kind}/${r.metadata.name}: ${g}`));
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((k) => /(list|watch) \/secrets|get \/secrets$|escalate|impersonate/.test(k))).toEqual([]);
    // The check sees what it looks for.
    expect(['Role/x: list /secrets', 'Role/x: get /secrets', 'Role/x: get /secrets:db'].filter((k) => /(list|watch) \/secrets|get \/secrets$|escalate|impersonate/.test(k))).toEqual(['Role/x: list /secrets', 'Role/x: get /secrets']);
  });

  it('deploy/kubernetes/source-secrets: `get` on named Secrets in their own namespace, bound to the worker', () => {
    expect(sourceSecrets.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'Role/preview-secrets/ephemera-source-secrets',
      'RoleBinding/preview-secrets/ephemera-source-secrets',
    ]);
    const role = find(sourceSecrets, 'Role', 'ephemera-source-secrets');
    const binding = find(sourceSecrets, 'RoleBinding', 'ephemera-source-secrets');
    expect(() => new Role(role).validate()).not.toThrow();
    expect(() => new RoleBinding(binding).validate()).not.toThrow();
    expect(role.rules).toHaveLength(1);
    expect(role.rules[0]).toMatchObject({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    expect(role.rules[0].resourceNames.length).toBeGreaterThan(0);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ephemera-source-secrets' });
    expect(binding.subjects).toEqual([WORKER_SUBJECT]);
  });

  it('deploy/kubernetes/preview-gateway: `get` on the one Gateway previews attach to, in its own namespace, bound to the worker', () => {
    expect(previewGateway.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'Role/gateway-system/ephemera-preview-gateway',
      'RoleBinding/gateway-system/ephemera-preview-gateway',
    ]);
    const role = find(previewGateway, 'Role', 'ephemera-preview-gateway');
    const binding = find(previewGateway, 'RoleBinding', 'ephemera-preview-gateway');
    expect(() => new Role(role).validate()).not.toThrow();
    expect(() => new RoleBinding(binding).validate()).not.toThrow();
    // Exactly what the worker asks for at start for PREVIEW_GATEWAY=gateway-system/previews.
    expect(grants(role)).toEqual(permissionKeys([gatewayPermission('previews')]));
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ephemera-preview-gateway' });
    expect(binding.subjects).toEqual([WORKER_SUBJECT]);
  });
});

// ------------------------------------------------------------------------------------------------ with these rights alone

const CONFIGS = new Map<string, string>([
  [
    'a'.repeat(40),
    `version: 1
services:
  web:
    image: ghcr.io/acme/web:{{sha}}
    port: 3000
    health: { path: /healthz }
  api:
    image: ghcr.io/acme/api:{{sha}}
    port: 4000
    secret_env:
      - { name: DB_PASSWORD, secret: preview-db, key: password }
  jobs:
    image: ghcr.io/acme/jobs:{{short_sha}}
expose: web
timeout_seconds: 600
`,
  ],
  // The next push drops `api` (its Deployment, Service and the Secret only it used are pruned).
  ['b'.repeat(40), 'version: 1\nservices:\n  web:\n    image: ghcr.io/acme/web:{{sha}}\n    port: 3000\n    health: { path: /healthz }\n  jobs:\n    image: ghcr.io/acme/jobs:{{sha}}\nexpose: web\ntimeout_seconds: 600\n'],
  ['c'.repeat(40), 'version: 1\nservices:\n  web:\n    image: ghcr.io/acme/crash:{{sha}}\n    port: 3000\ntimeout_seconds: 60\n'],
]);
const configs: PreviewConfigSource = {
  async load(ref) {
    const parsed = parsePreviewConfig(CONFIGS.get(ref.sha)!, { maxReplicas: 3 });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    return { file: '.ephemera.yml', config: parsed.config };
  },
};
const namespaceOf = (pr: number) => namespaceFor('acme/web', pr, 4242);
const target = (pr: number, sha: string): ProvisionTarget => ({
  environmentId: pr,
  namespace: namespaceOf(pr),
  repositoryFullName: 'acme/web',
  prNumber: pr,
  branchName: 'feature',
  commitSha: sha,
  environmentUrl: null,
  installationId: 1,
  fromFork: false,
  configSha: sha,
});

/** What the API server answered a refused call: its status and message. */
async function refusal(call: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call();
  } catch (err) {
    if (err instanceof k8s.ApiException) return { code: err.code, message: String((JSON.parse(String(err.body)) as { message: string }).message) };
    throw err;
  }
  throw new Error('the call was allowed');
}

describe('the Kubernetes provisioner with only the shipped rights (RBAC and admission policies enforced)', () => {
  let fake: FakeKubernetes;
  let api: KubeApi;
  let provisioner: KubernetesProvisioner;
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-rbac-'));
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const signal = new AbortController().signal;

  beforeAll(async () => {
    fake = await startFakeKubernetes({
      authorization: 'rbac',
      validatingAdmission: admitWithPolicies,
      gatewayApi: {},
      terminatingMs: 30,
      controllerDelayMs: 5,
      user: WORKER,
      // The same clock as the provisioner's below: a crash loop reaches its restarts in (scaled) seconds.
      secondMs: 10,
      rollout: ({ images }) => (images.some((i) => i.includes('crash')) ? 'CrashLoopBackOff' : 'success'),
    });
    for (const name of ['ephemera', 'preview-secrets', 'team-a']) fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    // What an operator applies: the base's roles and policies, and the source-secrets Role.
    for (const o of rendered.base.filter((o) => [...RBAC_KINDS, 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind))) fake.seed(o);
    for (const o of sourceSecrets) fake.seed(o);
    const secret = (name: string, type: string, data: Record<string, string>) =>
      fake.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'preview-secrets' }, type, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });
    secret('preview-db', 'Opaque', { password: 'hunter2' });
    secret('preview-wildcard-tls', 'kubernetes.io/tls', { 'tls.crt': 'cert', 'tls.key': 'key' });
    secret('registry-pull', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': '{"auths":{}}' });
    secret('other', 'Opaque', { token: 'not for previews' });

    api = new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 });
    provisioner = make();
  });
  /** The provisioner as configured here: an Ingress each, TLS copied in; `env` for a Gateway. */
  const make = (env: EnvOverrides = {}) => {
    // The instance the shipped policies name.
    const settings = kubeSettings(
      'default',
      {
        PREVIEW_URL_SCHEME: 'https',
        PREVIEW_TLS_MODE: 'copy',
        PREVIEW_TLS_SECRET: 'preview-secrets/preview-wildcard-tls',
        PREVIEW_IMAGE_PULL_SECRET: 'preview-secrets/registry-pull',
        PREVIEW_SECRETS_NAMESPACE: 'preview-secrets',
        PREVIEW_SECRETS_ALLOWED: 'preview-db',
      },
      env,
    );
    return new KubernetesProvisioner(settings, { api, configs, clock: { pollMs: 10, secondMs: 10 } });
  };
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys, updates, fails, lists and destroys previews, every request allowed, needing what the roles grant and no more', async () => {
    // As the worker does at start, then a pull request from open to close, and the sweeps' calls.
    await expect(provisioner.checkAccess(signal)).resolves.toEqual({ username: WORKER, warnings: [] });
    await provisioner.provision(target(1, 'a'.repeat(40)), log, signal);
    expect(logs).toContain('RoleBinding ephemera-preview created');
    // A namespace made by an earlier version has no record of what was applied: the update lists each kind (Secrets
    // excepted: those the listed objects name are the copies).
    const ns1 = fake.get('v1', 'Namespace', undefined, namespaceOf(1));
    delete ns1.metadata.annotations['ephemera.dev/applied'];
    fake.seed(ns1);
    await provisioner.update(target(1, 'b'.repeat(40)), log, signal);
    expect(logs).toEqual(expect.arrayContaining(['removed Deployment/api (no longer in the configuration)', 'removed Service/api (no longer in the configuration)', 'removed Secret/preview-db (no longer in the configuration)']));
    expect(fake.get('v1', 'Secret', namespaceOf(1), 'preview-db')).toBeUndefined();
    // The crash's reason is one line; the end of its log (read with pods/log) goes to the deployment's logs.
    await expect(provisioner.provision(target(2, 'c'.repeat(40)), log, signal)).rejects.toThrow(/^web: CrashLoopBackOff \(exit code \d+/);
    expect(logs.some((l) => l.startsWith('last log lines of '))).toBe(true);
    expect((await provisioner.ownedNamespaces(signal)).map((n) => n.namespace).sort()).toEqual([namespaceOf(1), namespaceOf(2)].sort());
    await provisioner.deleteNamespace(namespaceOf(2), signal);
    await provisioner.destroy(target(1, 'b'.repeat(40)), log, signal);
    expect(logs).toContain(`namespace ${namespaceOf(1)} deletion requested`);

    expect(fake.requests.filter((r) => r.status === 403)).toEqual([]);
    // What RBAC checked: every request's verb, `create` for each server-side apply that created its object, and
    // `bind` for each RoleBinding made.
    const needed = new Set<string>();
    for (const r of fake.requests) {
      needed.add(`${r.verb} ${r.group}/${r.resource}`);
      if (r.verb === 'patch' && r.contentType === 'application/apply-patch+yaml' && r.status === 201) needed.add(`create ${r.group}/${r.resource}`);
      if (r.verb === 'create' && r.resource === 'rolebindings' && r.status === 201) needed.add('bind rbac.authorization.k8s.io/clusterroles');
    }
    const unnamed = (keys: string[]) => keys.map((k) => k.replace(/:.*$/, ''));
    const roles = [...rendered.base, ...sourceSecrets].filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const granted = new Set(unnamed(roles.flatMap(grants)));
    // Every authenticated identity may review itself (Kubernetes' system:basic-user); nothing else is exempt.
    const everyone = new Set(['create authorization.k8s.io/selfsubjectaccessreviews', 'create authentication.k8s.io/selfsubjectreviews']);
    expect([...needed].filter((n) => !granted.has(n) && !everyone.has(n))).toEqual([]);
    // Granted and not reached here: prune deletes only kinds a new configuration can drop, and the fences (quota,
    // limits, network policy) and the Ingress are in every configuration; namespaces may be watched (the teardown
    // sweep reads them). The preview here has no add-on and no job, so their rights are not reached either.
    // Listed so that a change to what the provisioner calls, or to the roles, shows up here.
    expect([...granted].filter((g) => !needed.has(g)).sort()).toEqual([
      'create apps/statefulsets',
      'create batch/jobs',
      'create gateway.networking.k8s.io/httproutes',
      'delete /limitranges',
      'delete /persistentvolumeclaims',
      'delete /resourcequotas',
      'delete apps/statefulsets',
      'delete gateway.networking.k8s.io/httproutes',
      'delete networking.k8s.io/ingresses',
      'delete networking.k8s.io/networkpolicies',
      'get apps/statefulsets',
      'get batch/jobs',
      'get gateway.networking.k8s.io/httproutes',
      'patch apps/statefulsets',
      'patch gateway.networking.k8s.io/httproutes',
      'watch /namespaces',
    ]);
  });

  it('PREVIEW_ROUTING=gateway: with the preview-gateway Role too, a preview is routed by the Gateway, and switching back prunes the route, nothing refused', async () => {
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gateway-system' } });
    for (const o of previewGateway) fake.seed(o);
    fake.seed({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'example' }, spec: { controllerName: 'example.net/gateway-controller' } });
    fake.seed({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'previews', namespace: 'gateway-system' },
      spec: {
        gatewayClassName: 'example',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: '*.preview.test', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'app.kubernetes.io/managed-by': 'ephemera' } } } } }],
      },
    });
    const before = fake.requests.length;
    const gateway = make({ ...GATEWAY_ENV, PREVIEW_TLS_MODE: undefined, PREVIEW_TLS_SECRET: undefined, PREVIEW_URL_SCHEME: 'http' });
    await expect(gateway.checkAccess(signal)).resolves.toEqual({ username: WORKER, warnings: [] });
    await gateway.provision(target(5, 'b'.repeat(40)), log, signal);
    expect(logs).toContain('HTTPRoute ephemera-preview accepted by Gateway gateway-system/previews');
    await provisioner.update(target(5, 'b'.repeat(40)), log, signal);
    expect(fake.get('gateway.networking.k8s.io/v1', 'HTTPRoute', namespaceOf(5), 'ephemera-preview')).toBeUndefined();
    const requests = fake.requests.slice(before);
    expect(requests.filter((r) => r.status === 403)).toEqual([]);
    expect([...new Set(requests.filter((r) => r.group === 'gateway.networking.k8s.io').map((r) => `${r.verb} ${r.resource} ${r.status}`))].sort()).toEqual([
      'delete httproutes 200',
      'get gateways 200',
      'get httproutes 200',
      'patch httproutes 201',
    ]);
  });

  it('is refused anything else: other namespaces, other Secrets, other roles, other namespaces\' labels', async () => {
    await provisioner.provision(target(3, 'b'.repeat(40)), log, signal);
    const own = namespaceOf(3);
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } } };
    const labels = { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/instance': 'default', 'ephemera.dev/environment': '3' };

    // RBAC: nothing outside preview namespaces, no Secret but the named ones.
    expect(await refusal(() => api.apps.createNamespacedDeployment({ namespace: 'kube-system', body: deployment }))).toEqual({
      code: 403,
      message: expect.stringContaining(`User "${WORKER}" cannot create resource "deployments" in API group "apps" in the namespace "kube-system"`),
    });
    expect(await refusal(() => api.core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 's' }, stringData: { a: 'b' } } }))).toMatchObject({ code: 403 });
    expect(await refusal(() => api.core.listNamespacedSecret({ namespace: 'preview-secrets' }))).toMatchObject({ code: 403, message: expect.stringContaining('cannot list resource "secrets"') });
    expect(await refusal(() => api.core.listSecretForAllNamespaces())).toMatchObject({ code: 403 });
    expect(await refusal(() => api.core.readNamespacedSecret({ name: 'other', namespace: 'preview-secrets' }))).toMatchObject({ code: 403, message: expect.stringContaining('cannot get resource "secrets"') });
    expect(await refusal(() => api.core.listNamespacedSecret({ namespace: own }))).toMatchObject({ code: 403 });
    // Binding another role, even in its own namespace: RBAC's escalation check (no `bind` on it, and it holds less).
    const toAdmin = { ...previewRoleBinding(own, labels, WORKER), metadata: { name: 'admin', namespace: own, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' } };
    expect(await refusal(() => api.rbac.createNamespacedRoleBinding({ namespace: own, body: toAdmin }))).toMatchObject({ code: 403, message: expect.stringContaining('attempting to grant RBAC permissions not currently held') });

    // The admission policies: what RBAC's cluster-wide rights would allow.
    const policy = (name: string) => expect.stringContaining(`ValidatingAdmissionPolicy '${name}' with binding '${name}' denied request`);
    expect(await refusal(() => api.rbac.createNamespacedRoleBinding({ namespace: 'kube-system', body: previewRoleBinding('kube-system', labels, WORKER) }))).toEqual({
      code: 403,
      message: policy('ephemera-worker-rolebindings'),
    });
    const other = { ...previewRoleBinding(own, labels, WORKER), metadata: { name: 'for-the-preview', namespace: own, labels }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: own }] };
    expect(await refusal(() => api.rbac.createNamespacedRoleBinding({ namespace: own, body: other }))).toEqual({ code: 403, message: policy('ephemera-worker-rolebindings') });
    expect(await refusal(() => api.core.deleteNamespace({ name: 'team-a' }))).toEqual({ code: 403, message: policy('ephemera-worker-namespaces') });
    expect(
      await refusal(() => api.core.patchNamespace({ name: 'team-a', body: { metadata: { labels } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))),
    ).toEqual({ code: 403, message: policy('ephemera-worker-namespaces') });
    expect(await refusal(() => api.core.createNamespace({ body: { metadata: { name: 'evil', labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } } } }))).toEqual({
      code: 403,
      message: policy('ephemera-worker-namespaces'),
    });
    expect(
      await refusal(() => api.core.createNamespace({ body: { metadata: { name: namespaceOf(9), labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' } } } })),
    ).toEqual({ code: 403, message: policy('ephemera-worker-namespaces') });
    expect(
      await refusal(() =>
        api.core.patchNamespace({ name: own, body: { metadata: { labels: { 'ephemera.dev/instance': null, 'pod-security.kubernetes.io/enforce': 'baseline' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)),
      ),
    ).toEqual({ code: 403, message: policy('ephemera-worker-namespaces') });
    // Nothing refused was stored.
    expect(fake.get('v1', 'Namespace', undefined, 'team-a')?.metadata.labels ?? {}).not.toHaveProperty('app.kubernetes.io/managed-by');
    expect(fake.get('v1', 'Namespace', undefined, 'evil')).toBeUndefined();
    expect(fake.list('rbac.authorization.k8s.io/v1', 'RoleBinding', 'kube-system')).toEqual([]);
    expect(fake.get('v1', 'Namespace', undefined, own).metadata.labels).toMatchObject({ 'ephemera.dev/instance': 'default', 'pod-security.kubernetes.io/enforce': 'restricted' });
    await provisioner.destroy(target(3, 'b'.repeat(40)), log, signal);
  });
});
