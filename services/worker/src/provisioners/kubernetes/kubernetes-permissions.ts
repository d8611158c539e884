/**
 * Every (API group, resource, verb) the Kubernetes provisioner uses, and nothing else, in the three scopes it holds
 * them: the worker checks them at start (SelfSubjectAccessReview), and the roles shipped in deploy/kubernetes grant
 * exactly these (packages/deploy's tests keep them identical).
 *
 * Server-side apply is a PATCH, and creating an object by applying it also needs `create`.
 */
export interface KubernetesPermission {
  group: string;
  resource: string;
  verbs: readonly string[];
  /** Only these objects (RBAC's resourceNames); absent: every object of the resource. */
  resourceNames?: readonly string[];
}

/** The ClusterRole every preview namespace binds the worker to, and the name of that RoleBinding. */
export const PREVIEW_ROLE = 'ephemera-preview';

/**
 * Cluster-wide (ClusterRole `ephemera-provisioner`): the preview namespaces themselves, and binding the worker to
 * `ephemera-preview` in each one it creates. The ValidatingAdmissionPolicies of deploy/kubernetes narrow both to
 * Ephemera's own namespaces; `get` on the one ClusterRole is for the start-up check.
 */
export const CLUSTER_PERMISSIONS: readonly KubernetesPermission[] = [
  { group: '', resource: 'namespaces', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verbs: ['create'] },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verbs: ['bind', 'get'], resourceNames: [PREVIEW_ROLE] },
];

/**
 * In each preview namespace only (ClusterRole `ephemera-preview`, bound there by a RoleBinding the worker makes
 * right after the namespace). No `get` or `list` of Secrets: the copies are written and deleted by name.
 */
export const PREVIEW_NAMESPACE_PERMISSIONS: readonly KubernetesPermission[] = [
  { group: '', resource: 'resourcequotas', verbs: ['list', 'create', 'patch', 'delete'] },
  { group: '', resource: 'limitranges', verbs: ['list', 'create', 'patch', 'delete'] },
  { group: '', resource: 'secrets', verbs: ['create', 'patch', 'delete'] },
  { group: '', resource: 'services', verbs: ['list', 'create', 'patch', 'delete'] },
  // An add-on's volume claim is made by its StatefulSet; the worker only deletes it when the add-on is removed.
  { group: '', resource: 'persistentvolumeclaims', verbs: ['list', 'delete'] },
  // Rollouts are watched: Deployments, their ReplicaSets (which one is current), Pods and Events; a job run's pod
  // is listed to read the end of its log.
  { group: '', resource: 'pods', verbs: ['list', 'watch'] },
  { group: '', resource: 'pods/log', verbs: ['get'] },
  { group: '', resource: 'events', verbs: ['list', 'watch'] },
  { group: 'apps', resource: 'deployments', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { group: 'apps', resource: 'replicasets', verbs: ['list', 'watch'] },
  // Add-ons, read until ready.
  { group: 'apps', resource: 'statefulsets', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  // Job runs, created once each and read until they finish; ttlSecondsAfterFinished removes them.
  { group: 'batch', resource: 'jobs', verbs: ['get', 'create'] },
  { group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['list', 'create', 'patch', 'delete'] },
  { group: 'networking.k8s.io', resource: 'ingresses', verbs: ['list', 'create', 'patch', 'delete'] },
  // PREVIEW_ROUTING=gateway: the route, read back for the Gateway's verdict. Held in both modes, so switching prunes.
  { group: 'gateway.networking.k8s.io', resource: 'httproutes', verbs: ['get', 'create', 'patch', 'delete'] },
];

/**
 * In the Gateway's namespace (PREVIEW_ROUTING=gateway): `get` on that one Gateway, through a Role there, so a
 * Gateway that does not exist is named at start and fails a deploy at once instead of after its timeout.
 */
export function gatewayPermission(name: string): KubernetesPermission {
  return { group: 'gateway.networking.k8s.io', resource: 'gateways', verbs: ['get'], resourceNames: [name] };
}

/**
 * In each namespace Secrets are copied from (PREVIEW_TLS_SECRET in `copy` mode, PREVIEW_IMAGE_PULL_SECRET,
 * PREVIEW_SECRETS_ALLOWED in PREVIEW_SECRETS_NAMESPACE): `get` on those names alone, through a Role there.
 */
export function sourceSecretPermissions(names: readonly string[]): KubernetesPermission {
  return { group: '', resource: 'secrets', verbs: ['get'], resourceNames: [...names].sort() };
}

/** `verb group/resource` (with `:name` for a rule limited to names), one per verb: how the tests compare sets. */
export function permissionKeys(permissions: readonly KubernetesPermission[]): string[] {
  return permissions.flatMap((p) => p.verbs.flatMap((v) => (p.resourceNames ?? ['']).map((n) => `${v} ${p.group}/${p.resource}${n ? `:${n}` : ''}`)));
}
