import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes, type FakeKubernetesOptions } from '../src/fake-kubernetes.js';
import type { AdmissionRequest } from '../src/fake-kubernetes/admission-hook.js';
import { failure } from './api-fixture.js';

/* authorization: 'rbac' against the official client: what the stored Roles and bindings allow, the SSAR reasons,
   the registry's escalation checks (bind/escalate, or holding every permission granted), and the validating
   admission call site. The expected strings are the API server's (rbac.go, rule.go, escalation_check.go). */

const WORKER = 'system:serviceaccount:ephemera:worker';
const WORKER_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:ephemera', 'system:authenticated'];
const RBAC = 'rbac.authorization.k8s.io/v1';

interface Client {
  fake: FakeKubernetes;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  authz: AuthorizationV1Api;
  authn: AuthenticationV1Api;
  admission: AdmissionregistrationV1Api;
  objects: KubernetesObjectApi;
  /** A SelfSubjectAccessReview's status. */
  review(attrs: V1ResourceAttributes): Promise<{ allowed: boolean; reason?: string }>;
}

async function start(options: FakeKubernetesOptions): Promise<Client> {
  const fake = await startFakeKubernetes({ authorization: 'rbac', terminatingMs: 30, controllerDelayMs: 5, ...options });
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    fake,
    core: kc.makeApiClient(CoreV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    authz,
    authn: kc.makeApiClient(AuthenticationV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
    review: async (resourceAttributes) => {
      const status = (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes } } })).status!;
      return { allowed: status.allowed, ...(status.reason !== undefined ? { reason: status.reason } : {}) };
    },
  };
}

interface Rule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}
const role = (namespace: string, name: string, rules: Rule[]) => ({ apiVersion: RBAC, kind: 'Role', metadata: { name, namespace }, rules });
const clusterRole = (name: string, rules: Rule[]) => ({ apiVersion: RBAC, kind: 'ClusterRole', metadata: { name }, rules });
interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}
const workerSubject: Subject = { kind: 'ServiceAccount', name: 'worker', namespace: 'ephemera' };
const roleBinding = (namespace: string, name: string, roleRef: { kind: string; name: string }, subjects: Subject[] = [workerSubject]) => ({
  apiVersion: RBAC,
  kind: 'RoleBinding',
  metadata: { name, namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects,
});
const clusterRoleBinding = (name: string, roleName: string, subjects: Subject[] = [workerSubject]) => ({
  apiVersion: RBAC,
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
  subjects,
});
const configMap = (namespace: string, name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { a: '1' } });

describe('fake Kubernetes API server with RBAC: what the stored roles and bindings allow', () => {
  let c: Client;
  beforeAll(async () => {
    c = await start({ user: WORKER });
    for (const name of ['team-a', 'team-b']) c.fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    c.fake.seed(role('team-a', 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]));
    c.fake.seed(role('team-b', 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]));
    c.fake.seed(roleBinding('team-a', 'pod-reader', { kind: 'Role', name: 'pod-reader' }));
  });
  afterAll(() => c.fake.close());

  it('starts with the bootstrap policy only: nothing but asking who you are and what you may do', async () => {
    const names = (kind: string) => c.fake.list(RBAC, kind).map((o) => o.metadata.name);
    expect(names('ClusterRole')).toEqual(['cluster-admin', 'system:basic-user']);
    expect(names('ClusterRoleBinding')).toEqual(['system:basic-user']);
    expect(c.fake.get(RBAC, 'ClusterRoleBinding', undefined, 'system:basic-user').subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }]);

    const refused = await failure(c.core.listNamespace());
    expect(refused.status).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message: `namespaces is forbidden: User "${WORKER}" cannot list resource "namespaces" in API group "" at the cluster scope`,
      details: { kind: 'namespaces' },
    });
    // system:basic-user, bound to the group every authenticated user is in, allows the reviews.
    expect(await c.review({ verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
    });
  });

  it('a RoleBinding allows in its own namespace and nowhere else', async () => {
    c.fake.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'team-a' }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } });
    expect((await c.core.listNamespacedPod({ namespace: 'team-a' })).items.map((p) => p.metadata?.name)).toEqual(['web']);
    expect((await c.core.readNamespacedPod({ namespace: 'team-a', name: 'web' })).metadata?.name).toBe('web');

    const elsewhere = await failure(c.core.listNamespacedPod({ namespace: 'team-b' }));
    expect(elsewhere.status.message).toBe(`pods is forbidden: User "${WORKER}" cannot list resource "pods" in API group "" in the namespace "team-b"`);
    const everywhere = await failure(c.core.listPodForAllNamespaces());
    expect(everywhere.status.message).toBe(`pods is forbidden: User "${WORKER}" cannot list resource "pods" in API group "" at the cluster scope`);
    // Only the verbs granted: deleting is refused where reading is allowed, naming the object.
    const del = await failure(c.core.deleteNamespacedPod({ namespace: 'team-a', name: 'web' }));
    expect(del.status.message).toBe(`pods "web" is forbidden: User "${WORKER}" cannot delete resource "pods" in API group "" in the namespace "team-a"`);
    expect(c.fake.get('v1', 'Pod', 'team-a', 'web')).toBeDefined();
  });

  it('a ClusterRole bound by a RoleBinding grants only within the binding\'s namespace', async () => {
    c.fake.seed(clusterRole('configmap-editor', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create'] }]));
    c.fake.seed(roleBinding('team-a', 'configmap-editor', { kind: 'ClusterRole', name: 'configmap-editor' }));

    await c.core.createNamespacedConfigMap({ namespace: 'team-a', body: configMap('team-a', 'settings') });
    expect(c.fake.get('v1', 'ConfigMap', 'team-a', 'settings')).toBeDefined();
    const other = await failure(c.core.createNamespacedConfigMap({ namespace: 'team-b', body: configMap('team-b', 'settings') }));
    expect(other.status.message).toBe(`configmaps is forbidden: User "${WORKER}" cannot create resource "configmaps" in API group "" in the namespace "team-b"`);
    expect(c.fake.get('v1', 'ConfigMap', 'team-b', 'settings')).toBeUndefined();
    expect((await failure(c.core.listConfigMapForAllNamespaces())).code).toBe(403);
    expect(await c.review({ verb: 'create', resource: 'configmaps', namespace: 'team-a' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by RoleBinding "configmap-editor/team-a" of ClusterRole "configmap-editor" to ServiceAccount "worker/ephemera"',
    });
    expect(await c.review({ verb: 'create', resource: 'configmaps', namespace: 'team-b' })).toEqual({ allowed: false });
  });

  it('resourceNames allow requests naming one of them: get, and a list for one name, but not list, nor create', async () => {
    c.fake.seed(role('team-a', 'db-secret', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create'], resourceNames: ['db'] }]));
    c.fake.seed(roleBinding('team-a', 'db-secret', { kind: 'Role', name: 'db-secret' }));
    for (const name of ['db', 'other']) c.fake.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'team-a' }, data: { k: 'dg==' } });

    expect((await c.core.readNamespacedSecret({ namespace: 'team-a', name: 'db' })).metadata?.name).toBe('db');
    const other = await failure(c.core.readNamespacedSecret({ namespace: 'team-a', name: 'other' }));
    expect(other.status).toMatchObject({
      code: 403,
      message: `secrets "other" is forbidden: User "${WORKER}" cannot get resource "secrets" in API group "" in the namespace "team-a"`,
      details: { name: 'other', kind: 'secrets' },
    });
    expect((await failure(c.core.listNamespacedSecret({ namespace: 'team-a' }))).status.message).toBe(
      `secrets is forbidden: User "${WORKER}" cannot list resource "secrets" in API group "" in the namespace "team-a"`,
    );
    // A list whose fieldSelector requires one name is a request for that name (RequestInfo), as informers on one object use.
    expect((await c.core.listNamespacedSecret({ namespace: 'team-a', fieldSelector: 'metadata.name=db' })).items.map((s) => s.metadata?.name)).toEqual(['db']);
    // A create has no name in its URL, so a rule with resourceNames never matches it, whatever the body's name.
    const create = await failure(c.core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'db' } } }));
    expect(create.status.message).toBe(`secrets is forbidden: User "${WORKER}" cannot create resource "secrets" in API group "" in the namespace "team-a"`);

    expect(await c.review({ verb: 'get', resource: 'secrets', namespace: 'team-a', name: 'db' })).toMatchObject({ allowed: true });
    expect(await c.review({ verb: 'get', resource: 'secrets', namespace: 'team-a', name: 'other' })).toEqual({ allowed: false });
    expect(await c.review({ verb: 'list', resource: 'secrets', namespace: 'team-a' })).toEqual({ allowed: false });
  });

  it('subresources are resources of their own: pods/log is not pods, and */status matches any status', async () => {
    c.fake.seed(role('team-b', 'log-reader', [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }]));
    c.fake.seed(roleBinding('team-b', 'log-reader', { kind: 'Role', name: 'log-reader' }));

    // Authorized, so the request reaches the handler: the pod does not exist.
    expect((await failure(c.core.readNamespacedPodLog({ namespace: 'team-b', name: 'gone' }))).status).toMatchObject({ code: 404, message: 'pods "gone" not found' });
    expect((await failure(c.core.readNamespacedPod({ namespace: 'team-b', name: 'gone' }))).status.message).toBe(
      `pods "gone" is forbidden: User "${WORKER}" cannot get resource "pods" in API group "" in the namespace "team-b"`,
    );
    // pods (team-a) does not grant pods/log.
    expect((await failure(c.core.readNamespacedPodLog({ namespace: 'team-a', name: 'web' }))).status.message).toBe(
      `pods "web" is forbidden: User "${WORKER}" cannot get resource "pods/log" in API group "" in the namespace "team-a"`,
    );
    expect(await c.review({ verb: 'get', resource: 'pods', subresource: 'log', namespace: 'team-b', name: 'gone' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by RoleBinding "log-reader/team-b" of Role "log-reader" to ServiceAccount "worker/ephemera"',
    });

    c.fake.seed(clusterRole('status-reader', [{ apiGroups: ['apps'], resources: ['*/status'], verbs: ['get'] }]));
    c.fake.seed(clusterRoleBinding('status-reader', 'status-reader'));
    expect(await c.review({ verb: 'get', group: 'apps', resource: 'deployments', subresource: 'status', namespace: 'team-b' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "status-reader" of ClusterRole "status-reader" to ServiceAccount "worker/ephemera"',
    });
    expect(await c.review({ verb: 'get', group: 'apps', resource: 'deployments', namespace: 'team-b' })).toEqual({ allowed: false });
    expect(await c.review({ verb: 'get', group: '', resource: 'pods', subresource: 'status', namespace: 'team-b' })).toEqual({ allowed: false });
  });

  it('a binding to a role that does not exist grants nothing, and says so in the reason', async () => {
    c.fake.seed(roleBinding('team-b', 'ghost', { kind: 'ClusterRole', name: 'ghost' }));
    expect(await c.review({ verb: 'list', resource: 'services', namespace: 'team-b' })).toEqual({ allowed: false, reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found' });
    const refused = await failure(c.core.listNamespacedService({ namespace: 'team-b' }));
    expect(refused.status.message).toBe(
      `services is forbidden: User "${WORKER}" cannot list resource "services" in API group "" in the namespace "team-b": RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found`,
    );
    c.fake.seed(clusterRole('ghost', [{ apiGroups: [''], resources: ['services'], verbs: ['list'] }]));
    expect((await c.core.listNamespacedService({ namespace: 'team-b' })).items).toEqual([]);
  });

  it('forbid() still refuses what RBAC allows, in requests and reviews, until allow()', async () => {
    c.fake.forbid('list', 'pods');
    try {
      expect((await failure(c.core.listNamespacedPod({ namespace: 'team-a' }))).status.message).toBe(
        `pods is forbidden: User "${WORKER}" cannot list resource "pods" in API group "" in the namespace "team-a"`,
      );
      expect(await c.review({ verb: 'list', resource: 'pods', namespace: 'team-a' })).toEqual({ allowed: false });
      // Other verbs RBAC allows still work.
      expect((await c.core.readNamespacedPod({ namespace: 'team-a', name: 'web' })).metadata?.name).toBe('web');
    } finally {
      c.fake.allow('list', 'pods');
    }
    expect((await c.core.listNamespacedPod({ namespace: 'team-a' })).items).toHaveLength(1);
  });

  it('SelfSubjectReview answers the token\'s user: a service account\'s name, groups and uid', async () => {
    const before = (await c.authn.createSelfSubjectReview({ body: {} })).status?.userInfo;
    expect(before).toMatchObject({ username: WORKER, groups: WORKER_GROUPS });
    expect(before?.uid).toMatch(/^[0-9a-f-]{36}$/);
    // Once the service account exists, its token's uid is the account's.
    c.fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ephemera' } });
    c.fake.seed({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'worker', namespace: 'ephemera' } });
    const review = await c.authn.createSelfSubjectReview({ body: {} });
    expect(review).toMatchObject({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    expect(review.status?.userInfo?.uid).toBe(c.fake.get('v1', 'ServiceAccount', 'ephemera', 'worker').metadata.uid);
    // Taking system:basic-user away takes the reviews away too.
    const basic = c.fake.get(RBAC, 'ClusterRoleBinding', undefined, 'system:basic-user');
    c.fake.seed({ ...basic, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'nobody' }] });
    try {
      expect((await failure(c.authn.createSelfSubjectReview({ body: {} }))).status.message).toBe(
        `selfsubjectreviews.authentication.k8s.io is forbidden: User "${WORKER}" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope`,
      );
    } finally {
      c.fake.seed(basic);
    }
  });
});

describe('fake Kubernetes API server with RBAC: granting permissions (bind, escalate, or holding them)', () => {
  let c: Client;
  beforeAll(async () => {
    c = await start({ user: WORKER });
    for (const name of ['team-a', 'team-b']) c.fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    c.fake.seed(clusterRole('ephemera-preview', [{ apiGroups: ['', 'apps'], resources: ['configmaps', 'deployments'], verbs: ['get', 'list', 'create', 'update'] }]));
    // The worker may write RoleBindings anywhere and bind ephemera-preview (by name), and read pods in team-a.
    c.fake.seed(
      clusterRole('binder', [
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: ['create', 'get', 'update', 'patch'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['ephemera-preview'] },
      ]),
    );
    c.fake.seed(clusterRoleBinding('binder', 'binder'));
    for (const ns of ['team-a', 'team-b']) c.fake.seed(role(ns, 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]));
    c.fake.seed(roleBinding('team-a', 'pod-reader', { kind: 'Role', name: 'pod-reader' }));
  });
  afterAll(() => c.fake.close());

  const preview = (namespace: string, name: string, roleName: string) =>
    roleBinding(namespace, name, { kind: 'ClusterRole', name: roleName }, [{ kind: 'ServiceAccount', name: 'default', namespace }]);

  it('binds a ClusterRole the user may `bind` by name, though it holds none of its permissions', async () => {
    const created = await c.rbac.createNamespacedRoleBinding({ namespace: 'team-b', body: preview('team-b', 'ephemera-preview', 'ephemera-preview') });
    // Defaulted as the API server does: a ServiceAccount subject has no apiGroup.
    expect(created.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ephemera-preview' });
    expect(c.fake.get(RBAC, 'RoleBinding', 'team-b', 'ephemera-preview').subjects).toEqual([{ kind: 'ServiceAccount', name: 'default', namespace: 'team-b' }]);
    expect(await c.review({ verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'ephemera-preview' })).toMatchObject({ allowed: true });
    expect(await c.review({ verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'cluster-admin' })).toEqual({ allowed: false });
  });

  it('refuses binding cluster-admin as privilege escalation, listing the permissions not held', async () => {
    const refused = await failure(c.rbac.createNamespacedRoleBinding({ namespace: 'team-b', body: preview('team-b', 'admin', 'cluster-admin') }));
    expect(refused.status).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message:
        `rolebindings.rbac.authorization.k8s.io "admin" is forbidden: user "${WORKER}" (groups=["system:serviceaccounts" "system:serviceaccounts:ephemera" "system:authenticated"]) ` +
        'is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}',
      details: { name: 'admin', group: 'rbac.authorization.k8s.io', kind: 'rolebindings' },
    });
    expect(c.fake.get(RBAC, 'RoleBinding', 'team-b', 'admin')).toBeUndefined();
    // A role that does not exist cannot be checked: the registry answers its 404.
    const ghost = await failure(c.rbac.createNamespacedRoleBinding({ namespace: 'team-b', body: preview('team-b', 'ghost', 'ghost') }));
    expect(ghost.status).toMatchObject({ code: 404, reason: 'NotFound', message: 'clusterroles.rbac.authorization.k8s.io "ghost" not found' });
  });

  it('binds a role whose every permission the user holds in that namespace, without bind; not where it holds them not', async () => {
    const created = await c.rbac.createNamespacedRoleBinding({
      namespace: 'team-a',
      body: roleBinding('team-a', 'readers', { kind: 'Role', name: 'pod-reader' }, [{ kind: 'Group', name: 'readers' }]),
    });
    expect(created.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'readers' }]);
    const elsewhere = await failure(
      c.rbac.createNamespacedRoleBinding({ namespace: 'team-b', body: roleBinding('team-b', 'readers', { kind: 'Role', name: 'pod-reader' }, [{ kind: 'Group', name: 'readers' }]) }),
    );
    expect(elsewhere.status.message).toBe(
      `rolebindings.rbac.authorization.k8s.io "readers" is forbidden: user "${WORKER}" (groups=["system:serviceaccounts" "system:serviceaccounts:ephemera" "system:authenticated"]) ` +
        'is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
    );
  });

  it('writes a Role granting what the user holds, refuses one granting more (escalate lifts that), and keeps roleRef immutable', async () => {
    await c.rbac.createNamespacedRole({ namespace: 'team-a', body: role('team-a', 'viewer', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]) });
    const more = role('team-a', 'deleter', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete', 'deletecollection'] }]);
    const refused = await failure(c.rbac.createNamespacedRole({ namespace: 'team-a', body: more }));
    expect(refused.status.message).toBe(
      `roles.rbac.authorization.k8s.io "deleter" is forbidden: user "${WORKER}" (groups=["system:serviceaccounts" "system:serviceaccounts:ephemera" "system:authenticated"]) ` +
        'is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete" "deletecollection"]}',
    );
    c.fake.seed(role('team-a', 'escalator', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'] }]));
    c.fake.seed(roleBinding('team-a', 'escalator', { kind: 'Role', name: 'escalator' }));
    expect((await c.rbac.createNamespacedRole({ namespace: 'team-a', body: more })).metadata?.name).toBe('deleter');

    // roleRef cannot change, even to a role the user may bind.
    c.fake.seed(preview('team-a', 'switch', 'ghost-free'));
    c.fake.seed(clusterRole('ghost-free', []));
    const existing = await c.rbac.readNamespacedRoleBinding({ namespace: 'team-a', name: 'switch' });
    const changed = await failure(c.rbac.replaceNamespacedRoleBinding({ namespace: 'team-a', name: 'switch', body: { ...existing, roleRef: { ...existing.roleRef, name: 'ephemera-preview' } } }));
    expect(changed.status).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message:
        'RoleBinding.rbac.authorization.k8s.io "switch" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"ephemera-preview"}: cannot change roleRef',
    });
    // To a role the user may not bind, the escalation check comes first.
    const escalating = await failure(c.rbac.replaceNamespacedRoleBinding({ namespace: 'team-a', name: 'switch', body: { ...existing, roleRef: { ...existing.roleRef, name: 'cluster-admin' } } }));
    expect(escalating.code).toBe(403);
  });

  it('an aggregationRule takes cluster-admin\'s permissions, even in a ClusterRole granting nothing itself', async () => {
    c.fake.seed(clusterRole('clusterrole-writer', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['create'] }]));
    c.fake.seed(clusterRoleBinding('clusterrole-writer', 'clusterrole-writer'));
    await c.rbac.createClusterRole({ body: { metadata: { name: 'empty' }, rules: [] } });
    const aggregating = await failure(
      c.rbac.createClusterRole({ body: { metadata: { name: 'aggregating' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { team: 'a' } }] }, rules: [] } }),
    );
    expect(aggregating.status.message).toBe('clusterroles.rbac.authorization.k8s.io "aggregating" is forbidden: must have cluster-admin privileges to use the aggregationRule');
    expect(c.fake.get(RBAC, 'ClusterRole', undefined, 'aggregating')).toBeUndefined();
  });

  it('a server-side apply that creates needs create, with the reason the API server gives (none)', async () => {
    c.fake.seed(role('team-b', 'patcher', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['patch'] }]));
    c.fake.seed(roleBinding('team-b', 'patcher', { kind: 'Role', name: 'patcher' }));
    const apply = (o: KubernetesObject) => c.objects.patch(o, undefined, undefined, 'test', true, PatchStrategy.ServerSideApply);
    const refused = await failure(apply(configMap('team-b', 'fresh')));
    expect(refused.status).toMatchObject({ code: 403, reason: 'Forbidden', message: 'configmaps "fresh" is forbidden: ' });
    expect(c.fake.get('v1', 'ConfigMap', 'team-b', 'fresh')).toBeUndefined();
    c.fake.seed(configMap('team-b', 'fresh'));
    await apply({ ...configMap('team-b', 'fresh'), data: { a: '2' } } as KubernetesObject);
    expect(c.fake.get('v1', 'ConfigMap', 'team-b', 'fresh').data).toEqual({ a: '2' });
  });
});

describe('fake Kubernetes API server with RBAC: users, groups, and the new kinds', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    for (const cl of clients.splice(0)) await cl.fake.close();
  });

  it('binds by User and by Group, with the groups the option gives (used as given)', async () => {
    const c = await start({ user: 'alice', groups: ['devs', 'system:authenticated'] });
    clients.push(c);
    c.fake.seed(clusterRole('ns-reader', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]));
    c.fake.seed(clusterRoleBinding('devs-read', 'ns-reader', [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'devs' }]));
    expect((await c.core.listNamespace()).items.map((n) => n.metadata?.name)).toContain('default');
    expect(await c.review({ verb: 'list', resource: 'namespaces' })).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "ns-reader" to Group "devs"' });
    expect((await c.authn.createSelfSubjectReview({ body: {} })).status?.userInfo).toMatchObject({ username: 'alice', groups: ['devs', 'system:authenticated'] });
    expect((await failure(c.core.readNamespace({ name: 'default' }))).status.message).toBe('namespaces "default" is forbidden: User "alice" cannot get resource "namespaces" in API group "" in the namespace "default"');
    c.fake.seed(clusterRoleBinding('alice-get', 'ns-getter', [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }]));
    c.fake.seed(clusterRole('ns-getter', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }]));
    expect((await c.core.readNamespace({ name: 'default' })).metadata?.name).toBe('default');

    // Without system:authenticated, system:basic-user does not apply: not even a review may be asked for.
    const outsider = await start({ user: 'mallory', groups: ['devs'] });
    clients.push(outsider);
    expect((await failure(outsider.authn.createSelfSubjectReview({ body: {} }))).code).toBe(403);
    // system:masters may do anything without any binding (kube-apiserver's privileged-groups authorizer), grant included.
    const root = await start({ user: 'root', groups: ['system:masters', 'system:authenticated'] });
    clients.push(root);
    expect((await root.core.listNamespace()).items.length).toBeGreaterThan(0);
    await root.rbac.createClusterRoleBinding({ body: clusterRoleBinding('anyone-admin', 'cluster-admin', [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'devs' }]) });
    expect(root.fake.get(RBAC, 'ClusterRoleBinding', undefined, 'anyone-admin').roleRef.name).toBe('cluster-admin');
  });

  it('serves the RBAC and admission policy kinds: discovery, bootstrap objects, defaults and validation', async () => {
    const c = await start({ user: 'admin' });
    clients.push(c);
    c.fake.seed(clusterRoleBinding('admin', 'cluster-admin', [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'admin' }]));
    const discover = async (p: string) =>
      ((await (await fetch(`${c.fake.url}${p}`, { headers: { authorization: 'Bearer fake-token' } })).json()) as { resources: Array<{ name: string; namespaced: boolean; verbs: string[] }> }).resources;
    expect((await discover('/apis/rbac.authorization.k8s.io/v1')).map((r) => [r.name, r.namespaced])).toEqual([
      ['clusterrolebindings', false],
      ['clusterroles', false],
      ['rolebindings', true],
      ['roles', true],
    ]);
    expect((await discover('/apis/admissionregistration.k8s.io/v1')).map((r) => r.name)).toEqual([
      'validatingadmissionpolicies',
      'validatingadmissionpolicies/status',
      'validatingadmissionpolicybindings',
    ]);
    expect(await discover('/apis/authentication.k8s.io/v1')).toEqual([expect.objectContaining({ name: 'selfsubjectreviews', verbs: ['create'] })]);

    expect((await c.rbac.listClusterRole()).items.map((r) => r.metadata?.name)).toEqual(['cluster-admin', 'system:basic-user']);
    expect((await c.rbac.readClusterRoleBinding({ name: 'system:basic-user' })).roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:basic-user' });
    expect(await c.review({ verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'x' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "admin" of ClusterRole "cluster-admin" to User "admin"',
    });
    const path = await c.authz.createSelfSubjectAccessReview({ body: { spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } } } });
    expect(path.status).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "admin" of ClusterRole "cluster-admin" to User "admin"' });
    const neither = await failure(c.authz.createSelfSubjectAccessReview({ body: { spec: {} } }));
    expect(neither.status).toMatchObject({
      code: 422,
      message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
    });

    const policy = await c.admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: 'no-latest' },
        spec: {
          matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'] }] },
          validations: [{ expression: "!object.spec.template.spec.containers.exists(c, c.image.endsWith(':latest'))" }],
        },
      },
    });
    expect(policy.metadata?.generation).toBe(1);
    expect(policy.spec).toMatchObject({
      failurePolicy: 'Fail',
      matchConstraints: { matchPolicy: 'Equivalent', namespaceSelector: {}, objectSelector: {}, resourceRules: [{ scope: '*' }] },
    });
    const noActions = await failure(c.admission.createValidatingAdmissionPolicyBinding({ body: { metadata: { name: 'no-latest' }, spec: { policyName: 'no-latest' } } }));
    expect(noActions.status.message).toBe('ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "no-latest" is invalid: spec.validationActions: Required value: at least one validation action is required');
    await c.admission.createValidatingAdmissionPolicyBinding({ body: { metadata: { name: 'no-latest' }, spec: { policyName: 'no-latest', validationActions: ['Deny'] } } });
    const badRule = await failure(c.rbac.createClusterRole({ body: { metadata: { name: 'bad' }, rules: [{ apiGroups: [''], verbs: ['get'] }] } }));
    expect(badRule.status.message).toBe('ClusterRole.rbac.authorization.k8s.io "bad" is invalid: rules[0].resources: Required value: resource rules must supply at least one resource');
  });
});

describe('fake Kubernetes API server: the validating admission call site', () => {
  let c: Client;
  const seen: AdmissionRequest[] = [];
  let storedPolicies: string[] = [];
  beforeAll(async () => {
    c = await start({
      user: WORKER,
      authorization: undefined,
      validatingAdmission: (request, stored) => {
        seen.push(request);
        storedPolicies = stored.policies.map((p) => String((p.metadata as { name: string }).name));
        if (request.operation === 'CREATE' && request.resource === 'configmaps' && request.name === 'blocked') {
          return { code: 422, reason: 'Invalid', message: 'configmaps "blocked" is forbidden: ValidatingAdmissionPolicy \'p\' with binding \'b\' denied request: blocked' };
        }
        if (request.operation === 'DELETE' && request.resource === 'namespaces' && (request.oldObject?.metadata as { labels?: Record<string, string> }).labels?.keep === 'true') {
          return { code: 403, reason: 'Forbidden', message: 'namespaces "kept" is forbidden: kept' };
        }
        return undefined;
      },
    });
    c.fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kept', labels: { keep: 'true' } } });
    c.fake.seed({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'p' },
      spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] }, validations: [{ expression: 'true' }] },
    });
  });
  afterAll(() => c.fake.close());

  it('stops a create with the denial\'s Status, storing nothing; admits the rest with what the request is', async () => {
    // Seeds are not the token user's writes: not admitted.
    c.fake.seed(configMap('kept', 'seeded'));
    expect(seen).toEqual([]);

    const denied = await failure(c.core.createNamespacedConfigMap({ namespace: 'kept', body: configMap('kept', 'blocked') }));
    expect(denied.status).toMatchObject({ code: 422, reason: 'Invalid', message: 'configmaps "blocked" is forbidden: ValidatingAdmissionPolicy \'p\' with binding \'b\' denied request: blocked' });
    expect(c.fake.get('v1', 'ConfigMap', 'kept', 'blocked')).toBeUndefined();
    expect(storedPolicies).toEqual(['p']);

    await c.core.createNamespacedConfigMap({ namespace: 'kept', body: configMap('kept', 'fine') });
    const create = seen.find((r) => r.name === 'fine')!;
    expect(create).toMatchObject({
      operation: 'CREATE',
      group: '',
      version: 'v1',
      resource: 'configmaps',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      namespace: 'kept',
      oldObject: null,
      userInfo: { username: WORKER, groups: WORKER_GROUPS },
      dryRun: false,
    });
    expect(create.object).toMatchObject({ metadata: { name: 'fine', namespace: 'kept' }, data: { a: '1' } });
    expect(create.namespaceObject).toMatchObject({ metadata: { name: 'kept', labels: { keep: 'true' } } });

    await c.core.patchNamespacedConfigMap({ namespace: 'kept', name: 'fine', body: [{ op: 'replace', path: '/data/a', value: '2' }] });
    const update = seen[seen.length - 1]!;
    expect(update).toMatchObject({ operation: 'UPDATE', name: 'fine', object: { data: { a: '2' } }, oldObject: { data: { a: '1' } } });
  });

  it('stops a namespace delete: it stays, not terminating, and the request carries the namespace as oldObject', async () => {
    const denied = await failure(c.core.deleteNamespace({ name: 'kept' }));
    expect(denied.status).toMatchObject({ code: 403, reason: 'Forbidden', message: 'namespaces "kept" is forbidden: kept' });
    const ns = c.fake.get('v1', 'Namespace', undefined, 'kept');
    expect(ns.metadata.deletionTimestamp).toBeUndefined();
    expect(ns.status.phase).toBe('Active');
    expect(seen[seen.length - 1]).toMatchObject({ operation: 'DELETE', resource: 'namespaces', name: 'kept', namespace: 'kept', object: null, namespaceObject: null, oldObject: { metadata: { name: 'kept' } } });

    c.fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kept', labels: { keep: 'false' } } });
    await c.core.deleteNamespace({ name: 'kept' });
    expect(c.fake.get('v1', 'Namespace', undefined, 'kept')?.status.phase ?? 'gone').not.toBe('Active');
  });
});
