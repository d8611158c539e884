import type { V1PolicyRule, V1ResourceAttributes } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { kubeCall, kubeFailure, type KubeApi } from './kube-api.js';
import type { PreviewGatewaySettings } from '../../config.js';
import { CLUSTER_PERMISSIONS, PREVIEW_NAMESPACE_PERMISSIONS, PREVIEW_ROLE, gatewayPermission, type KubernetesPermission } from './kubernetes-permissions.js';
import { checkGateway } from './route-waiter.js';

/** A Secret named `namespace/name` in the operator's settings. */
export interface SecretRef {
  namespace: string;
  name: string;
}

export interface AccessCheckResult {
  /** The username the worker acts as: EPHEMERA_KUBE_SUBJECT, or what SelfSubjectReview reports. */
  username: string;
  /** Rights the worker holds and does not need, worth an operator's look (not a reason to stop). */
  warnings: string[];
}

/**
 * Rights no Ephemera worker needs: holding one means its identity is bound to more than deploy/kubernetes grants,
 * which a compromised worker would have too.
 */
const EXCESS: readonly V1ResourceAttributes[] = [
  { verb: 'list', group: '', resource: 'secrets' },
  { verb: 'get', group: '', resource: 'secrets', namespace: 'kube-system' },
  { verb: 'create', group: 'apps', resource: 'deployments', namespace: 'kube-system' },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'cluster-admin' },
];

/**
 * The worker's identity and, for it, every right the provisioner uses, checked at start so a missing one stops the
 * worker with its name instead of failing the first preview:
 * - cluster-wide (SelfSubjectAccessReview): CLUSTER_PERMISSIONS;
 * - in preview namespaces: what ClusterRole `ephemera-preview` holds, read (the worker may `get` that one role)
 *   and compared with PREVIEW_NAMESPACE_PERMISSIONS, since those namespaces do not exist yet;
 * - `get` on each source Secret, in its namespace;
 * - PREVIEW_ROUTING=gateway: `get` on the Gateway, in its namespace, and that it exists.
 */
export async function checkKubernetesAccess(
  api: KubeApi,
  o: { subject: string | undefined; sourceSecrets: readonly SecretRef[]; gateway?: PreviewGatewaySettings | undefined; signal: AbortSignal },
): Promise<AccessCheckResult> {
  const { signal } = o;
  try {
    await api.version.getCode();
  } catch (err) {
    throw new Error(`cannot reach the Kubernetes API at ${api.server}: ${kubeFailure(err).message}`, { cause: err });
  }
  const username = o.subject ?? (await checkKubernetesIdentity(api, signal));

  const asked: Array<{ label: string; attributes: V1ResourceAttributes }> = [];
  for (const p of CLUSTER_PERMISSIONS) {
    for (const verb of p.verbs) for (const name of p.resourceNames ?? [undefined]) asked.push({ label: label(verb, p, name), attributes: attributesOf(verb, p, name) });
  }
  for (const s of o.sourceSecrets) {
    asked.push({ label: `get secret ${s.namespace}/${s.name}`, attributes: { verb: 'get', group: '', resource: 'secrets', namespace: s.namespace, name: s.name } });
  }
  if (o.gateway) {
    const p = gatewayPermission(o.gateway.name);
    asked.push({ label: `get gateway ${o.gateway.namespace}/${o.gateway.name}`, attributes: { ...attributesOf('get', p, o.gateway.name), namespace: o.gateway.namespace } });
  }
  const answers = await Promise.all(asked.map(async (a) => ({ ...a, allowed: await allows(api, a.attributes, signal) })));
  const refused = answers.filter((a) => !a.allowed).map((a) => a.label);
  if (refused.length > 0) {
    throw new Error(
      `the Kubernetes API at ${api.server} refuses ${username} what the provisioner needs: ${refused.sort().join(', ')}; apply the roles of deploy/kubernetes (README: Permissions)`,
    );
  }

  if (o.gateway) {
    try {
      await checkGateway(api, o.gateway, signal);
    } catch (err) {
      throw new Error(`PREVIEW_ROUTING=gateway: ${(err as Error).message}`, { cause: err });
    }
  }

  const missing = await missingFromPreviewRole(api, signal);
  if (missing.length > 0) {
    throw new Error(`ClusterRole ${PREVIEW_ROLE} lacks what the provisioner needs in preview namespaces: ${missing.join(', ')}; apply deploy/kubernetes (rbac.yaml)`);
  }

  const excess = await Promise.all(EXCESS.map(async (attributes) => ((await allows(api, attributes, signal)) ? describe(attributes) : undefined)));
  const warnings = excess.filter((e): e is string => e !== undefined).map((e) => `${username} may ${e}, which Ephemera never needs: its identity is bound to more than deploy/kubernetes grants`);
  return { username, warnings };
}

/** Who the API server says the worker is (SelfSubjectReview, authentication.k8s.io/v1, Kubernetes 1.28+). */
export async function checkKubernetesIdentity(api: KubeApi, signal: AbortSignal): Promise<string> {
  try {
    const review = await kubeCall(
      () => api.authentication.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } }),
      { signal, what: 'asking the API server who the worker is (SelfSubjectReview)' },
    );
    const username = review.status?.userInfo?.username;
    if (!username) throw new Error('the SelfSubjectReview names no user');
    return username;
  } catch (err) {
    throw new Error(`cannot tell the worker's Kubernetes identity: ${(err as Error).message}; set EPHEMERA_KUBE_SUBJECT to its username (system:serviceaccount:<namespace>:<name> for a ServiceAccount)`, {
      cause: err,
    });
  }
}

async function allows(api: KubeApi, attributes: V1ResourceAttributes, signal: AbortSignal): Promise<boolean> {
  const review = await kubeCall(
    () => api.authorization.createSelfSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attributes } } }),
    { signal, what: `checking permission ${describe(attributes)}` },
  ).catch((err: Error) => {
    throw new Error(`the Kubernetes API at ${api.server} refused a permission check: ${err.message}`, { cause: err });
  });
  return review.status?.allowed === true;
}

/** What `ephemera-preview` lacks of PREVIEW_NAMESPACE_PERMISSIONS, by RBAC's matching rules (`*` included). */
async function missingFromPreviewRole(api: KubeApi, signal: AbortSignal): Promise<string[]> {
  let rules: V1PolicyRule[];
  try {
    const role = await kubeCall(
      async () => {
        try {
          return await api.rbac.readClusterRole({ name: PREVIEW_ROLE });
        } catch (err) {
          if (err instanceof ApiException && err.code === 404) return null;
          throw err;
        }
      },
      { signal, what: `reading ClusterRole ${PREVIEW_ROLE}` },
    );
    if (!role) throw new Error(`ClusterRole ${PREVIEW_ROLE} does not exist; apply deploy/kubernetes (rbac.yaml)`);
    rules = role.rules ?? [];
  } catch (err) {
    throw new Error(`cannot check ClusterRole ${PREVIEW_ROLE}: ${(err as Error).message}`, { cause: err });
  }
  const has = (rule: V1PolicyRule, verb: string, p: KubernetesPermission) =>
    (rule.verbs.includes('*') || rule.verbs.includes(verb)) &&
    (rule.apiGroups ?? []).some((g) => g === '*' || g === p.group) &&
    (rule.resources ?? []).some((r) => r === '*' || r === p.resource || (p.resource.includes('/') && r === `*/${p.resource.split('/')[1]}`)) &&
    (rule.resourceNames ?? []).length === 0;
  return PREVIEW_NAMESPACE_PERMISSIONS.flatMap((p) => p.verbs.filter((v) => !rules.some((r) => has(r, v, p))).map((v) => label(v, p)));
}

function attributesOf(verb: string, p: KubernetesPermission, name?: string): V1ResourceAttributes {
  const [resource, subresource] = p.resource.split('/') as [string, string | undefined];
  return { verb, group: p.group, resource, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) };
}

function label(verb: string, p: KubernetesPermission, name?: string): string {
  return `${verb} ${p.group ? `${p.resource}.${p.group}` : p.resource}${name ? ` ${name}` : ''}`;
}

function describe(a: V1ResourceAttributes): string {
  const resource = `${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}`;
  return `${a.verb} ${resource}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in namespace ${a.namespace}` : ' cluster-wide'}`;
}
