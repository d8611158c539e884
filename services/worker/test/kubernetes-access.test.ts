import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { parsePreviewConfig } from '@ephemera/schema';
import { startFakeKubernetes, type FakeKubernetes } from '@ephemera/testkit';
import { KubeApi } from '../src/provisioners/kubernetes/kube-api.js';
import { CLUSTER_PERMISSIONS, PREVIEW_NAMESPACE_PERMISSIONS, gatewayPermission, sourceSecretPermissions, type KubernetesPermission } from '../src/provisioners/kubernetes/kubernetes-permissions.js';
import { GATEWAY_ENV, KUBE_SECOND_MS, directProvisioner, directTarget } from './kube-provisioner.js';
import type { EnvOverrides } from './worker-settings.js';

// The worker's own rights, against a fake API server that authorizes every request by the RBAC objects it holds,
// as a cluster does: the start-up check, and the RoleBinding each preview namespace gets.

const WORKER = 'system:serviceaccount:ephemera:ephemera-worker';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const rulesOf = (permissions: readonly KubernetesPermission[]) =>
  permissions.map((p) => ({ apiGroups: [p.group], resources: [p.resource], verbs: [...p.verbs], ...(p.resourceNames ? { resourceNames: [...p.resourceNames] } : {}) }));
const worker = [{ kind: 'ServiceAccount', name: 'ephemera-worker', namespace: 'ephemera' }];

/** A ClusterRoleBinding of `role` to `subjects`, named like the role unless told. */
function bindCluster(fake: FakeKubernetes, role: string, subjects: object[], name = role): void {
  fake.seed({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects,
  });
}

/** The roles of deploy/kubernetes, built from the same tables (packages/deploy's tests hold the files to them). */
function seedWorkerRoles(fake: FakeKubernetes, preview: readonly KubernetesPermission[] = PREVIEW_NAMESPACE_PERMISSIONS): void {
  fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'ephemera-provisioner' }, rules: rulesOf(CLUSTER_PERMISSIONS) });
  bindCluster(fake, 'ephemera-provisioner', worker);
  fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'ephemera-preview' }, rules: rulesOf(preview) });
}

function seedSourceSecrets(fake: FakeKubernetes, names: string[]): void {
  fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'preview-secrets' } });
  for (const name of ['preview-db', 'registry-pull', 'other']) {
    fake.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'preview-secrets' }, data: { password: Buffer.from('hunter2').toString('base64') } });
  }
  fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'ephemera-source-secrets', namespace: 'preview-secrets' }, rules: rulesOf([sourceSecretPermissions(names)]) });
  fake.seed({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ephemera-source-secrets', namespace: 'preview-secrets' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ephemera-source-secrets' },
    subjects: worker,
  });
}

/** Role and RoleBinding ephemera-preview-gateway, as deploy/kubernetes/preview-gateway makes them for gateway-system/previews. */
function seedGatewayRole(fake: FakeKubernetes): void {
  if (!fake.get('v1', 'Namespace', undefined, 'gateway-system')) fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gateway-system' } });
  fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'ephemera-preview-gateway', namespace: 'gateway-system' }, rules: rulesOf([gatewayPermission('previews')]) });
  fake.seed({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ephemera-preview-gateway', namespace: 'gateway-system' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ephemera-preview-gateway' },
    subjects: worker,
  });
}

let fake: FakeKubernetes;
beforeEach(async () => {
  fake = await startFakeKubernetes({ authorization: 'rbac', user: WORKER, terminatingMs: 30, controllerDelayMs: 5, secondMs: KUBE_SECOND_MS });
});
afterEach(() => fake.close());

function make(env: EnvOverrides = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
  dirs.push(dir);
  return directProvisioner(new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), requestTimeoutMs: 5_000 }), 'access', env);
}

const WEB = (() => {
  const parsed = parsePreviewConfig('version: 1\nservices:\n  web:\n    image: ghcr.io/acme/web:{{sha}}\n    port: 3000\ntimeout_seconds: 60\n', { maxReplicas: 3 });
  if (!parsed.ok) throw new Error('bad test configuration');
  return { file: '.ephemera.yml', config: parsed.config };
})();
const signal = new AbortController().signal;

describe('Kubernetes provisioner: start-up check', () => {
  it('passes with the shipped roles and names the identity SelfSubjectReview reports', async () => {
    seedWorkerRoles(fake);
    const result = await make().checkAccess();
    expect(result).toEqual({ username: WORKER, warnings: [] });
    expect(fake.requests.filter((r) => r.resource === 'selfsubjectreviews')).toHaveLength(1);
    // Cluster-wide rights by review; the preview role by reading it (its namespaces do not exist yet).
    expect(fake.requests.some((r) => r.verb === 'get' && r.resource === 'clusterroles' && r.name === 'ephemera-preview' && r.status === 200)).toBe(true);
  });

  it('names each cluster-wide right the identity lacks', async () => {
    fake.seed({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'ephemera-provisioner' },
      rules: rulesOf([{ group: '', resource: 'namespaces', verbs: ['get', 'list', 'watch', 'create', 'patch'] }, CLUSTER_PERMISSIONS[2]!]),
    });
    bindCluster(fake, 'ephemera-provisioner', worker);
    fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'ephemera-preview' }, rules: rulesOf(PREVIEW_NAMESPACE_PERMISSIONS) });
    await expect(make().checkAccess()).rejects.toThrow(
      /refuses system:serviceaccount:ephemera:ephemera-worker what the provisioner needs: create rolebindings\.rbac\.authorization\.k8s\.io, delete namespaces;/,
    );
  });

  it('names what ClusterRole ephemera-preview lacks, and says when it is missing', async () => {
    seedWorkerRoles(fake, PREVIEW_NAMESPACE_PERMISSIONS.map((p) => (p.resource === 'pods/log' ? { ...p, verbs: [] } : p.resource === 'services' ? { ...p, verbs: ['list', 'create', 'patch'] } : p)).filter((p) => p.verbs.length > 0));
    await expect(make().checkAccess()).rejects.toThrow(/^ClusterRole ephemera-preview lacks what the provisioner needs in preview namespaces: delete services, get pods\/log;/);
    fake.seed({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'ephemera-preview' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] });
    await expect(make().checkAccess()).resolves.toMatchObject({ username: WORKER });
  });

  it('checks `get` on each source Secret by name, and nothing wider', async () => {
    seedWorkerRoles(fake);
    seedSourceSecrets(fake, ['preview-db']);
    const p = make({ PREVIEW_SECRETS_NAMESPACE: 'preview-secrets', PREVIEW_SECRETS_ALLOWED: 'preview-db', PREVIEW_IMAGE_PULL_SECRET: 'preview-secrets/registry-pull' });
    expect(p.sourceSecrets()).toEqual([
      { namespace: 'preview-secrets', name: 'registry-pull' },
      { namespace: 'preview-secrets', name: 'preview-db' },
    ]);
    await expect(p.checkAccess()).rejects.toThrow(/what the provisioner needs: get secret preview-secrets\/registry-pull;/);
    seedSourceSecrets(fake, ['preview-db', 'registry-pull']);
    await expect(p.checkAccess()).resolves.toMatchObject({ warnings: [] });
  });

  it('PREVIEW_ROUTING=gateway: `get` on the one Gateway, in its namespace, and that it exists', async () => {
    await fake.close();
    fake = await startFakeKubernetes({ authorization: 'rbac', user: WORKER, terminatingMs: 30, controllerDelayMs: 5, secondMs: KUBE_SECOND_MS, gatewayApi: {} });
    seedWorkerRoles(fake);
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gateway-system' } });
    const p = make(GATEWAY_ENV);
    await expect(p.checkAccess()).rejects.toThrow(/what the provisioner needs: get gateway gateway-system\/previews;/);
    // Deploy's Role (deploy/kubernetes/preview-gateway): the one name, nothing wider.
    seedGatewayRole(fake);
    await expect(p.checkAccess()).rejects.toThrow('PREVIEW_ROUTING=gateway: Gateway gateway-system/previews (PREVIEW_GATEWAY) does not exist');
    fake.seed({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'previews', namespace: 'gateway-system' },
      spec: { gatewayClassName: 'previews', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    });
    await expect(p.checkAccess()).resolves.toEqual({ username: WORKER, warnings: [] });
    expect(fake.requests.filter((r) => r.resource === 'gateways').map((r) => `${r.verb} ${r.namespace}/${r.name} ${r.status}`)).toEqual([
      'get gateway-system/previews 404',
      'get gateway-system/previews 200',
    ]);
  });

  it('a cluster without the Gateway API: PREVIEW_ROUTING=gateway stops the worker saying so', async () => {
    seedWorkerRoles(fake);
    const p = make(GATEWAY_ENV);
    seedGatewayRole(fake);
    await expect(p.checkAccess()).rejects.toThrow(/the cluster does not serve the Gateway API \(gateway\.networking\.k8s\.io\/v1\): install its CRDs/);
  });

  it('uses EPHEMERA_KUBE_SUBJECT instead of asking, and warns of rights no worker needs', async () => {
    seedWorkerRoles(fake);
    bindCluster(fake, 'cluster-admin', worker, 'too-much');
    const result = await make({ EPHEMERA_KUBE_SUBJECT: WORKER }).checkAccess();
    expect(fake.requests.filter((r) => r.resource === 'selfsubjectreviews')).toHaveLength(0);
    expect(result.warnings).toEqual([
      `${WORKER} may list secrets cluster-wide, which Ephemera never needs: its identity is bound to more than deploy/kubernetes grants`,
      `${WORKER} may get secrets in namespace kube-system, which Ephemera never needs: its identity is bound to more than deploy/kubernetes grants`,
      `${WORKER} may create deployments.apps in namespace kube-system, which Ephemera never needs: its identity is bound to more than deploy/kubernetes grants`,
      `${WORKER} may bind clusterroles.rbac.authorization.k8s.io cluster-admin cluster-wide, which Ephemera never needs: its identity is bound to more than deploy/kubernetes grants`,
    ]);
  });

  it('says when the API cannot be reached', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
    dirs.push(dir);
    const file = path.join(dir, 'config');
    writeFileSync(file, fake.kubeconfig.replace(fake.url, 'http://127.0.0.1:9'));
    const p = directProvisioner(new KubeApi({ kubeconfigPath: file, requestTimeoutMs: 2_000 }), 'access');
    await expect(p.checkAccess()).rejects.toThrow(/^cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:9: /);
  });

  it('refuses a context the kubeconfig does not have', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-kube-'));
    dirs.push(dir);
    expect(() => new KubeApi({ kubeconfigPath: fake.writeKubeconfig(dir), context: 'prod', requestTimeoutMs: 1_000 })).toThrow(
      /KUBE_CONTEXT prod is not a context of .* \(it has: fake\)/,
    );
  });
});

describe('Kubernetes provisioner: the RoleBinding of each preview namespace', () => {
  it('binds the worker to ephemera-preview in the namespace it made, and writes everything else through it', async () => {
    seedWorkerRoles(fake);
    const p = make();
    const logs: string[] = [];
    await p.provision(directTarget(1, 'access', 'a'.repeat(40), WEB), (l) => logs.push(l), signal);
    const binding = fake.get('rbac.authorization.k8s.io/v1', 'RoleBinding', 'pr-1-web-access', 'ephemera-preview');
    expect(binding).toMatchObject({
      metadata: { labels: { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/instance': 'access', 'ephemera.dev/environment': '1' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ephemera-preview' },
      subjects: [{ kind: 'ServiceAccount', name: 'ephemera-worker', namespace: 'ephemera' }],
    });
    expect(logs).toContain('RoleBinding ephemera-preview created');
    // The namespace first, then the binding, then the rest; no request was refused.
    const writes = fake.requests.filter((r) => r.namespace === 'pr-1-web-access' && r.verb !== 'get' && r.resource !== 'namespaces');
    expect(writes[0]).toMatchObject({ verb: 'create', resource: 'rolebindings', status: 201 });
    expect(fake.requests.filter((r) => r.status === 403)).toEqual([]);

    // A second deploy finds the binding made: nothing new, nothing refused.
    logs.length = 0;
    await p.update(directTarget(1, 'access', 'b'.repeat(40), WEB), (l) => logs.push(l), signal);
    expect(logs).not.toContain('RoleBinding ephemera-preview created');
    expect(fake.requests.filter((r) => r.resource === 'rolebindings').map((r) => r.status)).toEqual([201, 409]);
    await expect(p.destroy(directTarget(1, 'access', 'b'.repeat(40), WEB), () => {}, signal)).resolves.toMatch(/gone|terminating/);
  });

  it('names a User subject for an identity that is not a ServiceAccount', async () => {
    await fake.close();
    fake = await startFakeKubernetes({ authorization: 'rbac', user: 'ephemera-bot', terminatingMs: 30, controllerDelayMs: 5, secondMs: KUBE_SECOND_MS });
    seedWorkerRoles(fake);
    bindCluster(fake, 'ephemera-provisioner', [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ephemera-bot' }]);
    await make().provision(directTarget(2, 'access', 'a'.repeat(40), WEB), () => {}, signal);
    expect(fake.get('rbac.authorization.k8s.io/v1', 'RoleBinding', 'pr-2-web-access', 'ephemera-preview').subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ephemera-bot' },
    ]);
  });

  it('fails the deploy, naming the role, when the binding gives no access (ClusterRole ephemera-preview grants nothing)', async () => {
    // The binding can still be made (`bind` is on the role's name), but nothing is written through it.
    seedWorkerRoles(fake, []);
    await expect(make().provision(directTarget(3, 'access', 'a'.repeat(40), WEB), () => {}, signal)).rejects.toThrow(
      /^the RoleBinding ephemera-preview in namespace pr-3-web-access does not give the worker access .*check that ClusterRole ephemera-preview exists/,
    );
    expect(fake.list('apps/v1', 'Deployment', 'pr-3-web-access')).toEqual([]);
  });
});
