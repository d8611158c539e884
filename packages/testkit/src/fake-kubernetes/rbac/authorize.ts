/**
 * The authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go) and its rule resolver (pkg/registry/rbac/validation/rule.go):
 * who a binding applies to, and which rules reach a user.
 */
import { aggregate } from '../aggregate.js';
import { isObject, type Obj } from '../merge.js';
import { KubeError, notFound } from '../status.js';
import { ruleAllows } from './rule-allows.js';
import { RBAC_GROUP, rulesOf, type Attributes, type Decision, type Getter, type PolicyRule, type RbacObjects, type RoleRef, type Subject, type UserInfo } from './types.js';

function appliesToUser(user: UserInfo, subject: Subject, namespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(String(subject.name));
    case 'ServiceAccount': {
      // A RoleBinding's ServiceAccount subject without a namespace means one in the binding's own namespace.
      const ns = subject.namespace || namespace;
      if (!ns) return false;
      return user.username === `system:serviceaccount:${ns}:${subject.name ?? ''}`;
    }
    default:
      return false;
  }
}

/** The index of the first subject that applies, or -1. */
function appliesTo(user: UserInfo, subjects: unknown, namespace: string): number {
  const list: Subject[] = Array.isArray(subjects) ? subjects.filter(isObject) : [];
  return list.findIndex((s) => appliesToUser(user, s, namespace));
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} ${JSON.stringify(`${s.name ?? ''}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind ?? ''} ${JSON.stringify(s.name ?? '')}`;
}

/** GetRoleReferenceRules: the rules of the role a binding refers to, or why they cannot be had. */
export function roleReferenceRules(objects: RbacObjects, roleRef: RoleRef, bindingNamespace: string, getter: Getter): { rules: PolicyRule[] } | { error: KubeError } {
  const name = String(roleRef.name ?? '');
  const missing = (resource: 'roles' | 'clusterroles') =>
    getter === 'registry'
      ? notFound({ group: RBAC_GROUP, resource }, name)
      : new KubeError(404, 'NotFound', `${resource.slice(0, -1)}.${RBAC_GROUP} "${name}" not found`, { name, group: RBAC_GROUP, kind: resource.slice(0, -1) });
  switch (roleRef.kind) {
    case 'Role': {
      const role = bindingNamespace ? objects.role(bindingNamespace, name) : undefined;
      return role ? { rules: rulesOf(role) } : { error: missing('roles') };
    }
    case 'ClusterRole': {
      const role = objects.clusterRole(name);
      return role ? { rules: rulesOf(role) } : { error: missing('clusterroles') };
    }
    default:
      // Not a Status error: the API server answers it as a 500 with reason Unknown.
      return { error: new KubeError(500, '', `unsupported role reference kind: ${JSON.stringify(roleRef.kind ?? '')}`) };
  }
}

type Visit = { source: string; rule: PolicyRule } | { error: string };

/** VisitRulesFor: every ClusterRoleBinding's rules, then (for a namespace) every RoleBinding's there, in list order. */
function* visitRulesFor(objects: RbacObjects, user: UserInfo, namespace: string, getter: Getter): Generator<Visit> {
  for (const binding of objects.clusterRoleBindings()) yield* visitBinding(objects, user, binding, '', getter);
  if (!namespace) return;
  for (const binding of objects.roleBindings(namespace)) yield* visitBinding(objects, user, binding, namespace, getter);
}

/** The rules one binding gives `user`, when it applies to them; `namespace` is a RoleBinding's ('' for a ClusterRoleBinding). */
function* visitBinding(objects: RbacObjects, user: UserInfo, binding: Obj, namespace: string, getter: Getter): Generator<Visit> {
  const i = appliesTo(user, binding.subjects, namespace);
  if (i < 0) return;
  const roleRef: RoleRef = isObject(binding.roleRef) ? binding.roleRef : {};
  const resolved = roleReferenceRules(objects, roleRef, namespace, getter);
  if ('error' in resolved) {
    yield { error: resolved.error.message };
    return;
  }
  const name = namespace
    ? `RoleBinding ${JSON.stringify(`${binding.metadata?.name ?? ''}/${binding.metadata?.namespace ?? namespace}`)}`
    : `ClusterRoleBinding ${JSON.stringify(binding.metadata?.name ?? '')}`;
  const source = `${name} of ${roleRef.kind} ${JSON.stringify(roleRef.name ?? '')} to ${describeSubject(binding.subjects[i], namespace)}`;
  for (const rule of resolved.rules) yield { source, rule };
}

/** RBACAuthorizer.Authorize: allowed by the first rule that matches, else no opinion (a denial here). */
export function authorize(objects: RbacObjects, user: UserInfo, attrs: Attributes): Decision {
  const errors: string[] = [];
  for (const visit of visitRulesFor(objects, user, attrs.namespace ?? '', 'lister')) {
    if ('error' in visit) errors.push(visit.error);
    else if (ruleAllows(attrs, visit.rule)) return { allowed: true, reason: `RBAC: allowed by ${visit.source}` };
  }
  return { allowed: false, reason: errors.length > 0 ? `RBAC: ${aggregate(errors)}` : '' };
}

/** RulesFor: every rule the user holds in `namespace` ('' for cluster-wide), with the resolution errors met. */
export function rulesFor(objects: RbacObjects, user: UserInfo, namespace: string, getter: Getter = 'registry'): { rules: PolicyRule[]; errors: string[] } {
  const rules: PolicyRule[] = [];
  const errors: string[] = [];
  for (const visit of visitRulesFor(objects, user, namespace, getter)) {
    if ('error' in visit) errors.push(visit.error);
    else rules.push(visit.rule);
  }
  return { rules, errors };
}
