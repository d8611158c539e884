/** The registry's escalation checks (pkg/registry/rbac/escalation_check.go and the four policybased storages). */
import { aggregate } from '../aggregate.js';
import { clone, deepEqual, isObject, type Obj } from '../merge.js';
import { KubeError, forbidden } from '../status.js';
import { roleReferenceRules, rulesFor } from './authorize.js';
import { compactRules, compactString, covers, goQuotedList } from './covers.js';
import { RBAC_GROUP, rulesOf, type Authorize, type PolicyRule, type RbacObjects, type RoleRef, type UserInfo } from './types.js';

/**
 * ConfirmNoEscalation: undefined when what `user` holds in `namespace` ('' for cluster-wide) covers `rules`, otherwise
 * the registry's message naming each missing permission.
 */
export function confirmNoEscalation(objects: RbacObjects, user: UserInfo, namespace: string, rules: PolicyRule[]): string | undefined {
  const held = rulesFor(objects, user, namespace, 'registry');
  const { covered, missing } = covers(held.rules, rules);
  if (covered) return undefined;
  const descriptions = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.username)} (groups=${goQuotedList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${descriptions.join('\n')}`;
  if (held.errors.length > 0) msg += `; resolution errors: [${aggregate(held.errors)}]`;
  return msg;
}

const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

const hasAggregationRule = (role: Obj | undefined) => isObject(role?.aggregationRule) && Array.isArray(role.aggregationRule.clusterRoleSelectors) && role.aggregationRule.clusterRoleSelectors.length > 0;

/** IsOnlyMutatingGCFields: the update changes nothing but ownerReferences and finalizers (what the GC writes). */
export function isOnlyMutatingGCFields(obj: Obj, old: Obj): boolean {
  const strip = (o: Obj) => {
    const c = clone(o);
    c.metadata = isObject(c.metadata) ? c.metadata : {};
    for (const k of ['ownerReferences', 'finalizers', 'selfLink', 'resourceVersion', 'managedFields', 'generation']) delete c.metadata[k];
    return c;
  };
  return deepEqual(strip(obj), strip(old));
}

/** BindingAuthorized: `bind` on the referenced role, by name, in the binding's namespace ('' for a ClusterRoleBinding). */
export function bindingAuthorized(authorizeFn: Authorize, roleRef: RoleRef, bindingNamespace: string): boolean {
  const resource = roleRef.kind === 'ClusterRole' ? 'clusterroles' : roleRef.kind === 'Role' ? 'roles' : undefined;
  if (!resource) return false;
  return authorizeFn({ verb: 'bind', resourceRequest: true, group: roleRef.apiGroup ?? '', resource, name: roleRef.name ?? '', namespace: bindingNamespace }).allowed;
}

export interface RbacWrite {
  objects: RbacObjects;
  /** The server's whole authorizer (RBAC with the fake's overrides): what `bind` and `escalate` are asked of. */
  authorize: Authorize;
  user: UserInfo;
  /** roles, clusterroles, rolebindings or clusterrolebindings. */
  resource: string;
  /** The object to store, defaulted. */
  obj: Obj;
  /** The stored object, on updates. */
  old?: Obj;
  /** The request's namespace ('' for the cluster-scoped kinds). */
  namespace: string;
  /** The name in the request's URL ('' for a POST, whose name is in the body). */
  requestName: string;
}

/**
 * What the policybased storages refuse before storing a role or binding written by a user: undefined when allowed,
 * else the error to answer (403 Forbidden naming the permissions not held, or the referenced role's 404).
 */
export function escalationRefusal(w: RbacWrite): KubeError | undefined {
  // EscalationAllowed: system:masters may grant anything.
  if (w.user.groups.includes('system:masters')) return undefined;
  const def = { group: RBAC_GROUP, resource: w.resource };
  const name = String(w.obj.metadata?.name ?? '');
  if (w.resource === 'roles' || w.resource === 'clusterroles') {
    const escalate = w.authorize({ verb: 'escalate', resourceRequest: true, group: RBAC_GROUP, resource: w.resource, name: w.requestName, namespace: w.namespace });
    if (escalate.allowed) return undefined;
    if (w.old && isOnlyMutatingGCFields(w.obj, w.old)) return undefined;
    const missing = confirmNoEscalation(w.objects, w.user, w.namespace, rulesOf(w.obj));
    if (missing) return forbidden(def, name, missing);
    // An aggregationRule can gather anything, so setting (or changing) one takes * on *.
    if (w.resource === 'clusterroles' && (hasAggregationRule(w.obj) || hasAggregationRule(w.old)) && confirmNoEscalation(w.objects, w.user, w.namespace, FULL_AUTHORITY)) {
      return forbidden(def, name, 'must have cluster-admin privileges to use the aggregationRule');
    }
    return undefined;
  }
  if (w.resource === 'rolebindings' || w.resource === 'clusterrolebindings') {
    if (w.old && isOnlyMutatingGCFields(w.obj, w.old)) return undefined;
    const roleRef: RoleRef = isObject(w.obj.roleRef) ? w.obj.roleRef : {};
    if (bindingAuthorized(w.authorize, roleRef, w.namespace)) return undefined;
    const resolved = roleReferenceRules(w.objects, roleRef, w.namespace, 'registry');
    if ('error' in resolved) return resolved.error;
    const missing = confirmNoEscalation(w.objects, w.user, w.namespace, resolved.rules);
    return missing ? forbidden(def, name, missing) : undefined;
  }
  return undefined;
}
