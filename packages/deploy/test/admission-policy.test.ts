import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { PREVIEW_NAMESPACE_PATTERN, namespaceFor } from '@ephemera/schema';
import { admitWithPolicies, type AdmissionRequest } from '@ephemera/testkit';
import { kustomizeBuild, type KubeObject } from './kustomize.js';

// deploy/kubernetes/base/admission-policy.yaml, rendered as `kubectl apply -k` renders each tree (kustomize.ts),
// checked against Kubernetes' schemas, then evaluated by the test kit's ValidatingAdmissionPolicy evaluator (which
// follows the API server's plugin) against the requests the worker makes and those it must not be able to make.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const KUBE = path.join(root, 'deploy/kubernetes');
const TREES = ['base', 'production', 'gateway', 'try'] as const;
type Tree = (typeof TREES)[number];
const rendered: Record<Tree, KubeObject[]> = {
  base: kustomizeBuild(path.join(KUBE, 'base')),
  production: kustomizeBuild(path.join(KUBE, 'overlays/production')),
  gateway: kustomizeBuild(path.join(KUBE, 'overlays/gateway')),
  try: kustomizeBuild(path.join(KUBE, 'overlays/try')),
};

const NAMESPACES_POLICY = 'ephemera-worker-namespaces';
const ROLEBINDINGS_POLICY = 'ephemera-worker-rolebindings';
const POLICIES = [NAMESPACES_POLICY, ROLEBINDINGS_POLICY];

type Obj = Record<string, unknown>;
/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are arbitrary Kubernetes JSON */
const find = (objects: KubeObject[], kind: string, name: string): any => objects.find((o) => o.kind === kind && o.metadata.name === name);
const ofKind = (objects: KubeObject[], kind: string): any[] => objects.filter((o) => o.kind === kind);
/* eslint-enable @typescript-eslint/no-explicit-any */
const stored = (tree: Tree) => ({ policies: ofKind(rendered[tree], 'ValidatingAdmissionPolicy'), bindings: ofKind(rendered[tree], 'ValidatingAdmissionPolicyBinding') });

describe('the ValidatingAdmissionPolicies of deploy/kubernetes', () => {
  it.each(TREES)('%s: both policies and their bindings, each binding named like its policy, labelled like the worker\'s objects', (tree) => {
    expect(ofKind(rendered[tree], 'ValidatingAdmissionPolicy').map((o) => o.metadata.name).sort()).toEqual(POLICIES);
    expect(ofKind(rendered[tree], 'ValidatingAdmissionPolicyBinding').map((o) => o.metadata.name).sort()).toEqual(POLICIES);
    for (const name of POLICIES) {
      const policy = find(rendered[tree], 'ValidatingAdmissionPolicy', name);
      const binding = find(rendered[tree], 'ValidatingAdmissionPolicyBinding', name);
      for (const o of [policy, binding]) {
        expect(o.apiVersion).toBe('admissionregistration.k8s.io/v1');
        expect(o.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'ephemera', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/part-of': 'ephemera' });
      }
      expect(policy.spec.failurePolicy).toBe('Fail');
      expect(policy.spec.paramKind).toBeUndefined();
      expect(binding.spec).toEqual({ policyName: name, validationActions: ['Deny'] });
      // Every refusal says why, as Forbidden (403).
      for (const v of policy.spec.validations) {
        expect(v.reason).toBe('Forbidden');
        expect(Boolean(v.message) || Boolean(v.messageExpression)).toBe(true);
      }
    }
  });

  // Their schemas (kubernetes-models) and unknown fields: kubernetes-manifests.test.ts, with every other object.

  it.each(TREES)('%s: apply to the worker\'s ServiceAccount as rendered, with the EPHEMERA_INSTANCE of the rendered ConfigMap', (tree) => {
    const sa = find(rendered[tree], 'ServiceAccount', 'ephemera-worker');
    const username = `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`;
    const instance = find(rendered[tree], 'ConfigMap', 'ephemera-config').data.EPHEMERA_INSTANCE;
    for (const name of POLICIES) {
      const spec = find(rendered[tree], 'ValidatingAdmissionPolicy', name).spec;
      expect(spec.matchConditions).toEqual([{ name: 'ephemera-worker', expression: `request.userInfo.username == '${username}'` }]);
      expect(spec.variables.find((v: { name: string }) => v.name === 'instance')).toEqual({ name: 'instance', expression: `'${instance}'` });
    }
    const deployment = find(rendered[tree], 'Deployment', 'worker');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  it.each(TREES)('%s: the namespace pattern is PREVIEW_NAMESPACE_PATTERN of packages/schema, exactly', (tree) => {
    const spec = find(rendered[tree], 'ValidatingAdmissionPolicy', NAMESPACES_POLICY).spec;
    const patterns = (spec.validations as Array<{ expression: string }>).flatMap((v) => [...v.expression.matchAll(/\.matches\('([^']*)'\)/g)].map((m) => m[1]));
    expect(patterns).toEqual([PREVIEW_NAMESPACE_PATTERN.source]);
    expect(PREVIEW_NAMESPACE_PATTERN.flags).toBe('');
    expect(spec.validations[0].expression).toContain('size(object.metadata.name) <= 63');
  });

  it('the same in every tree (only kustomize\'s namespace and labels differ from the base file)', () => {
    for (const tree of TREES) {
      for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
        for (const name of POLICIES) expect(find(rendered[tree], kind, name).spec).toEqual(find(rendered.base, kind, name).spec);
      }
    }
  });
});

// ------------------------------------------------------------------------------------------------ evaluated

const WORKER = {
  username: 'system:serviceaccount:ephemera:ephemera-worker',
  uid: '4f1c2a9e-0d6b-4b8e-9a51-2f7d3c8e6b10',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:ephemera', 'system:authenticated'],
};
const ADMIN = { username: 'kubernetes-admin', uid: '', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
type User = typeof WORKER;

const PREVIEW = namespaceFor('acme/web', 7, 42);
/** A namespace as the worker makes it (preview-fences.ts: ownerLabels, the PR, Pod Security). */
function previewNamespace(name = PREVIEW, labels: Record<string, string | undefined> = {}): Obj {
  const all: Record<string, string | undefined> = {
    'app.kubernetes.io/managed-by': 'ephemera',
    'ephemera.dev/environment': '42',
    'ephemera.dev/instance': 'default',
    'ephemera.dev/pr': '7',
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
    ...labels,
  };
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)),
      annotations: { 'ephemera.dev/repository': 'acme/web' },
    },
    spec: { finalizers: ['kubernetes'] },
  };
}
const stock = (name: string): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } }, spec: { finalizers: ['kubernetes'] } });

/** A request on a Namespace as the API server admits it: UPDATE and DELETE carry the name as the namespace too. */
function onNamespace(operation: AdmissionRequest['operation'], objects: { object?: Obj; oldObject?: Obj }, user: User = WORKER): AdmissionRequest {
  const name = String(((objects.object ?? objects.oldObject)!.metadata as Obj).name);
  return {
    operation,
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: { group: '', version: 'v1', kind: 'Namespace' },
    name,
    ...(operation === 'CREATE' ? {} : { namespace: name }),
    object: objects.object ?? null,
    oldObject: objects.oldObject ?? null,
    namespaceObject: null,
    userInfo: user,
    dryRun: false,
  };
}
const create = (ns: Obj, user?: User) => onNamespace('CREATE', { object: ns }, user);
const update = (oldObject: Obj, object: Obj, user?: User) => onNamespace('UPDATE', { object, oldObject }, user);
const remove = (ns: Obj, user?: User) => onNamespace('DELETE', { oldObject: ns }, user);

type Subject = { kind: string; name: string; namespace?: string; apiGroup?: string };
const SELF_SA: Subject = { kind: 'ServiceAccount', name: 'ephemera-worker', namespace: 'ephemera' };
const SELF_USER: Subject = { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: WORKER.username };
function roleBinding(namespace: string, subjects: Subject[] | undefined, roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ephemera-preview' }): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ephemera-preview', namespace, labels: { 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/instance': 'default' } },
    roleRef,
    ...(subjects ? { subjects } : {}),
  };
}
function createRoleBinding(binding: Obj, namespaceObject: Obj, user: User = WORKER): AdmissionRequest {
  const meta = binding.metadata as Obj;
  return {
    operation: 'CREATE',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'rolebindings',
    kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding' },
    name: String(meta.name),
    namespace: String(meta.namespace),
    object: binding,
    oldObject: null,
    namespaceObject,
    userInfo: user,
    dryRun: false,
  };
}

const denial = (resource: string, name: string, policy: string, message: string) => ({
  code: 403,
  reason: 'Forbidden',
  message: `${resource} "${name}" is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request: ${message}`,
});
const LABELS = 'app.kubernetes.io/managed-by=ephemera and ephemera.dev/instance=default';
const NAME_REFUSED = 'the worker may only create namespaces named as Ephemera names its previews (pr-<number>-<repository>-<10 hex digits>, at most 63 characters)';
const LEVEL_REFUSED = 'the worker may only create or update namespaces labelled pod-security.kubernetes.io/enforce=baseline or restricted (the code of a preview is untrusted)';
const LOWERING_REFUSED = 'the worker may not lower the Pod Security level of a namespace (pod-security.kubernetes.io/enforce from restricted to baseline)';
const VERSION_REFUSED = 'the worker may only leave pod-security.kubernetes.io/enforce-version out or set it to latest';
const namespaceDenial = (name: string, message: string) => denial('namespaces', name, NAMESPACES_POLICY, message);
const bindingDenial = (message: string) => denial('rolebindings.rbac.authorization.k8s.io', 'ephemera-preview', ROLEBINDINGS_POLICY, message);

describe.each(TREES)('%s: what the policies let the worker do to namespaces', (tree) => {
  const admit = (request: AdmissionRequest) => admitWithPolicies(request, stored(tree));

  it('creates its preview namespace, named by namespaceFor and labelled as it labels them', () => {
    expect(PREVIEW).toMatch(PREVIEW_NAMESPACE_PATTERN);
    expect(admit(create(previewNamespace()))).toBeUndefined();
    expect(admit(create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'baseline' })))).toBeUndefined();
    expect(admit(create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce-version': undefined })))).toBeUndefined();
    // Long and unicode names, the fallback slug, the longest PR number.
    for (const [repository, pr] of [[`acme/${'x'.repeat(100)}`, 2147483647], ['acme/日本語', 1], ['acme/Café.App', 12]] as const) {
      const name = namespaceFor(repository, pr, 1296269);
      expect(admit(create(previewNamespace(name)))).toBeUndefined();
    }
  });

  it('creates no other namespace: each refusal says why', () => {
    expect(admit(create(previewNamespace('kube-system2')))).toEqual(namespaceDenial('kube-system2', NAME_REFUSED));
    expect(admit(create(previewNamespace('pr-01-web-0123456789')))).toEqual(namespaceDenial('pr-01-web-0123456789', NAME_REFUSED));
    const tooLong = `pr-1-${'a'.repeat(60)}-0123456789`;
    expect(admit(create(previewNamespace(tooLong)))).toEqual(namespaceDenial(tooLong, NAME_REFUSED));
    const unlabelled = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PREVIEW } };
    expect(admit(create(unlabelled))).toEqual(namespaceDenial(PREVIEW, `the worker may only create namespaces labelled ${LABELS}`));
    expect(admit(create(previewNamespace(PREVIEW, { 'ephemera.dev/instance': 'staging' })))).toEqual(namespaceDenial(PREVIEW, `the worker may only create namespaces labelled ${LABELS}`));
    expect(admit(create(previewNamespace(PREVIEW, { 'app.kubernetes.io/managed-by': 'helm' })))).toEqual(namespaceDenial(PREVIEW, `the worker may only create namespaces labelled ${LABELS}`));
    expect(admit(create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'privileged' })))).toEqual(namespaceDenial(PREVIEW, LEVEL_REFUSED));
    expect(admit(create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': undefined, 'pod-security.kubernetes.io/enforce-version': undefined })))).toEqual(
      namespaceDenial(PREVIEW, LEVEL_REFUSED),
    );
    expect(admit(create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce-version': 'v1.25' })))).toEqual(namespaceDenial(PREVIEW, VERSION_REFUSED));
  });

  it('updates its own namespaces, keeping their labels and never lowering their Pod Security level', () => {
    const own = previewNamespace();
    const annotated = { ...own, metadata: { ...(own.metadata as Obj), annotations: { 'ephemera.dev/repository': 'acme/web', 'ephemera.dev/pull-request-url': 'https://github.com/acme/web/pull/7' } } };
    expect(admit(update(own, annotated))).toBeUndefined();
    expect(admit(update(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'baseline' }), own))).toBeUndefined();

    expect(admit(update(own, previewNamespace(PREVIEW, { 'ephemera.dev/instance': undefined })))).toEqual(
      namespaceDenial(PREVIEW, `the worker may not remove or change the labels ${LABELS} of its namespaces`),
    );
    expect(admit(update(own, previewNamespace(PREVIEW, { 'app.kubernetes.io/managed-by': 'someone-else' })))).toEqual(
      namespaceDenial(PREVIEW, `the worker may not remove or change the labels ${LABELS} of its namespaces`),
    );
    expect(admit(update(own, previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'baseline' })))).toEqual(namespaceDenial(PREVIEW, LOWERING_REFUSED));
    expect(admit(update(own, previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'privileged' })))).toEqual(namespaceDenial(PREVIEW, LEVEL_REFUSED));
    expect(admit(update(own, previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce-version': 'v1.25' })))).toEqual(namespaceDenial(PREVIEW, VERSION_REFUSED));
  });

  it('updates no other namespace, not even to label it as its own', () => {
    const updateRefused = namespaceDenial('kube-system', `the worker may only update namespaces labelled ${LABELS}`);
    const kubeSystem = stock('kube-system');
    expect(admit(update(kubeSystem, { ...kubeSystem, metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system', x: 'y' } } }))).toEqual(updateRefused);
    expect(admit(update(kubeSystem, previewNamespace('kube-system')))).toEqual(updateRefused);
    const otherInstance = previewNamespace(PREVIEW, { 'ephemera.dev/instance': 'staging' });
    expect(admit(update(otherInstance, otherInstance))).toEqual(namespaceDenial(PREVIEW, `the worker may only update namespaces labelled ${LABELS}`));
  });

  it('deletes its own namespaces and no other', () => {
    expect(admit(remove(previewNamespace()))).toBeUndefined();
    expect(admit(remove(stock('kube-system')))).toEqual(namespaceDenial('kube-system', `the worker may only delete namespaces labelled ${LABELS}`));
    expect(admit(remove(stock('default')))).toEqual(namespaceDenial('default', `the worker may only delete namespaces labelled ${LABELS}`));
    expect(admit(remove(previewNamespace(PREVIEW, { 'ephemera.dev/instance': 'staging' })))).toEqual(namespaceDenial(PREVIEW, `the worker may only delete namespaces labelled ${LABELS}`));
  });

  it('leaves everyone else alone: the cluster admin may do all of it', () => {
    const own = previewNamespace();
    for (const request of [
      create(previewNamespace('kube-system2'), ADMIN),
      create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: PREVIEW } }, ADMIN),
      create(previewNamespace(PREVIEW, { 'ephemera.dev/instance': 'staging' }), ADMIN),
      create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'privileged' }), ADMIN),
      create(previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': undefined }), ADMIN),
      update(own, previewNamespace(PREVIEW, { 'ephemera.dev/instance': undefined }), ADMIN),
      update(own, previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce': 'baseline' }), ADMIN),
      update(own, previewNamespace(PREVIEW, { 'pod-security.kubernetes.io/enforce-version': 'v1.25' }), ADMIN),
      update(stock('kube-system'), previewNamespace('kube-system'), ADMIN),
      remove(stock('kube-system'), ADMIN),
      // Another ServiceAccount of namespace ephemera, or one named ephemera-worker elsewhere.
      remove(stock('kube-system'), { ...WORKER, username: 'system:serviceaccount:ephemera:ephemera-query' }),
      remove(stock('kube-system'), { ...WORKER, username: 'system:serviceaccount:other:ephemera-worker' }),
    ]) {
      expect(admit(request)).toBeUndefined();
    }
  });

  it('touches nothing else the worker does (the policies match namespaces and RoleBindings only)', () => {
    const configMap: AdmissionRequest = {
      ...createRoleBinding(roleBinding('kube-system', [SELF_SA]), stock('kube-system')),
      group: '',
      resource: 'configmaps',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'kube-system' } },
    };
    expect(admit(configMap)).toBeUndefined();
  });
});

describe.each(TREES)('%s: what the policies let the worker bind', (tree) => {
  const admit = (request: AdmissionRequest) => admitWithPolicies(request, stored(tree));
  const own = previewNamespace();

  it('binds itself to ClusterRole ephemera-preview in its own namespace, as its ServiceAccount or as the User of its username', () => {
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA]), own))).toBeUndefined();
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_USER]), own))).toBeUndefined();
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA, SELF_USER]), own))).toBeUndefined();
  });

  it('binds in no other namespace', () => {
    expect(admit(createRoleBinding(roleBinding('kube-system', [SELF_SA]), stock('kube-system')))).toEqual(
      bindingDenial(`the worker may only bind roles in namespaces labelled ${LABELS}`),
    );
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA]), previewNamespace(PREVIEW, { 'ephemera.dev/instance': 'staging' })))).toEqual(
      bindingDenial(`the worker may only bind roles in namespaces labelled ${LABELS}`),
    );
  });

  it('binds no other role', () => {
    const refused = bindingDenial('the worker may only bind ClusterRole ephemera-preview');
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }), own))).toEqual(refused);
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }), own))).toEqual(refused);
    expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA], { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ephemera-preview' }), own))).toEqual(refused);
  });

  it('binds no one but itself, and someone', () => {
    const refused = bindingDenial(`the worker may only bind ClusterRole ephemera-preview to itself (${WORKER.username}): no other user, group or service account`);
    for (const extra of [
      { kind: 'ServiceAccount', name: 'ephemera-query', namespace: 'ephemera' },
      { kind: 'ServiceAccount', name: 'default', namespace: PREVIEW },
      // Without a namespace a ServiceAccount subject is in the RoleBinding's: not the worker's.
      { kind: 'ServiceAccount', name: 'ephemera-worker' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:ephemera' },
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'kubernetes-admin' },
    ]) {
      expect(admit(createRoleBinding(roleBinding(PREVIEW, [SELF_SA, extra]), own))).toEqual(refused);
      expect(admit(createRoleBinding(roleBinding(PREVIEW, [extra]), own))).toEqual(refused);
    }
    const empty = bindingDenial('the worker may only bind ClusterRole ephemera-preview to itself, and a RoleBinding without subjects binds no one');
    expect(admit(createRoleBinding(roleBinding(PREVIEW, []), own))).toEqual(empty);
    expect(admit(createRoleBinding(roleBinding(PREVIEW, undefined), own))).toEqual(empty);
  });

  it('refuses an update of a RoleBinding on the same terms', () => {
    const mine = roleBinding(PREVIEW, [SELF_SA]);
    const request = (object: Obj): AdmissionRequest => ({ ...createRoleBinding(object, own), operation: 'UPDATE', oldObject: mine });
    expect(admit(request(mine))).toBeUndefined();
    expect(admit(request(roleBinding(PREVIEW, [SELF_SA, { kind: 'Group', name: 'system:authenticated' }])))).toEqual(
      bindingDenial(`the worker may only bind ClusterRole ephemera-preview to itself (${WORKER.username}): no other user, group or service account`),
    );
  });

  it('leaves everyone else alone', () => {
    const clusterAdmin = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' };
    expect(admit(createRoleBinding(roleBinding('kube-system', [{ kind: 'Group', name: 'system:authenticated' }], clusterAdmin), stock('kube-system'), ADMIN))).toBeUndefined();
    expect(admit(createRoleBinding(roleBinding(PREVIEW, []), own, ADMIN))).toBeUndefined();
  });
});
