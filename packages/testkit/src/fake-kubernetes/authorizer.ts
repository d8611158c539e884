/**
 * Who the token is and what it may do: the authenticator's user, the server's authorizer (forbid() refusals, then
 * RBAC in rbac mode) and the authorization filter's 403.
 */
import { DEF } from './cluster-host.js';
import { authorize as rbacAuthorize, type Attributes, type Decision, type RbacObjects, type UserInfo } from './rbac.js';
import type { Route } from './requests.js';
import { findKind, qualifiedResource } from './resources.js';
import type { ServerState } from './server-state.js';
import { KubeError } from './status.js';

const CLUSTER_ROLE_BINDING = findKind('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding')!;
const ROLE_BINDING = findKind('rbac.authorization.k8s.io/v1', 'RoleBinding')!;
const CLUSTER_ROLE = findKind('rbac.authorization.k8s.io/v1', 'ClusterRole')!;
const ROLE = findKind('rbac.authorization.k8s.io/v1', 'Role')!;

/** forbid() refuses (verb, group/resource), or every verb on it. */
export function isForbidden(state: ServerState, verb: string, group: string, resource: string): boolean {
  return state.forbidden.has(`${verb} ${group}/${resource}`) || state.forbidden.has(`* ${group}/${resource}`);
}

/** The stored roles and bindings RBAC reads. */
export function rbacObjects(state: ServerState): RbacObjects {
  return {
    clusterRoleBindings: () => state.store.all(CLUSTER_ROLE_BINDING),
    roleBindings: (ns) => state.store.all(ROLE_BINDING, ns),
    clusterRole: (name) => state.store.get(CLUSTER_ROLE, undefined, name),
    role: (ns, name) => state.store.get(ROLE, ns, name),
  };
}

/** The token's user, as the authenticator gives it (a service account's uid is its object's). */
export function userInfo(state: ServerState): UserInfo {
  const sa = state.user.match(/^system:serviceaccount:([^:]+):(.+)$/);
  const account = sa ? state.store.get(DEF.serviceAccount, sa[1], sa[2]!) : undefined;
  return { username: state.user, uid: account?.metadata.uid ?? state.userUid, groups: [...state.groups] };
}

/**
 * The server's authorizer: forbid() refuses; then (rbac mode) kube-apiserver's union of the privileged-groups
 * authorizer (system:masters may do anything) and RBAC; otherwise everything is allowed.
 */
export function authorizeRequest(state: ServerState, attrs: Attributes): Decision {
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : (attrs.resource ?? '');
  if (attrs.resourceRequest && isForbidden(state, attrs.verb, attrs.group ?? '', resource)) return { allowed: false, reason: '' };
  if (!state.rbacMode || state.groups.includes('system:masters')) return { allowed: true, reason: '' };
  return rbacAuthorize(rbacObjects(state), userInfo(state), attrs);
}

/** The authorization filter's 403: responsewriters.Forbidden, with the authorizer's reason when it gave one. */
export function rbacRefusal(state: ServerState, route: Omit<Route, 'inNamespacePath'>, verb: string, reason = ''): KubeError {
  const resource = route.sub ? `${route.resource}/${route.sub}` : route.resource;
  const qualified = qualifiedResource({ group: route.group, resource: route.resource });
  const subject = route.name ? `${qualified} "${route.name}"` : qualified;
  const scope = route.namespace ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
  return new KubeError(403, 'Forbidden', `${subject} is forbidden: User "${state.user}" cannot ${verb} resource "${resource}" in API group "${route.group}" ${scope}${reason ? `: ${reason}` : ''}`, {
    ...(route.name ? { name: route.name } : {}),
    group: route.group || undefined,
    kind: route.resource,
  });
}
