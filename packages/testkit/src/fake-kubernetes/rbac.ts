/**
 * Kubernetes RBAC as the API server evaluates it, as pure functions over the stored Roles, ClusterRoles, RoleBindings
 * and ClusterRoleBindings:
 *
 * - the authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go) and its rule resolver (pkg/registry/rbac/validation/rule.go):
 *   every ClusterRoleBinding, then the RoleBindings of the request's namespace; the first rule that allows names the
 *   binding in the reason; roles that cannot be found are resolution errors, not denials of their own;
 * - rule matching (pkg/apis/rbac/v1/evaluation_helpers.go): `*` verbs, groups and resources, `*` + `/subresource`,
 *   resourceNames that only a request naming its object can match;
 * - the registry's escalation checks (pkg/registry/rbac/escalation_check.go and the four policybased storages): a binding
 *   needs `bind` on its role (by name) or every permission the role grants; a role needs `escalate` or every
 *   permission it grants (ConfirmNoEscalation with Covers and CompactRules, and their message).
 */
import { clone, deepEqual, isObject, type Obj } from './merge.js';
import { KubeError, forbidden, invalid, notFound } from './status.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** Who is asking: what an authenticator answers for the token. */
export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
}

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface RoleRef {
  apiGroup?: string;
  kind?: string;
  name?: string;
}

interface Subject {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}

/** authorizer.Attributes: a resource request (group, resource, subresource, namespace, name) or a non-resource path. */
export interface Attributes {
  verb: string;
  resourceRequest: boolean;
  group?: string;
  resource?: string;
  subresource?: string;
  /** '' or absent: cluster-wide, so only ClusterRoleBindings apply. */
  namespace?: string;
  name?: string;
  /** Non-resource requests only. */
  path?: string;
}

export interface Decision {
  allowed: boolean;
  /** `RBAC: allowed by ...` when allowed; `RBAC: <resolution errors>` or '' when not. */
  reason: string;
}

export type Authorize = (attrs: Attributes) => Decision;

/** The stored RBAC objects, as the authorizer's listers (and the registry's getters) see them. */
export interface RbacObjects {
  clusterRoleBindings(): Obj[];
  roleBindings(namespace: string): Obj[];
  clusterRole(name: string): Obj | undefined;
  role(namespace: string, name: string): Obj | undefined;
}

/**
 * Which getter failed to find a role: the authorizer reads listers (`clusterrole.rbac.authorization.k8s.io "x" not
 * found`), the registry's escalation checks read storage (`clusterroles.rbac.authorization.k8s.io "x" not found`).
 */
type Getter = 'lister' | 'registry';

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
const rulesOf = (role: Obj | undefined): PolicyRule[] => (Array.isArray(role?.rules) ? (role.rules as unknown[]).filter(isObject) : []);

// ---- evaluation_helpers.go -------------------------------------------------------------------------------------

export const verbMatches = (rule: PolicyRule, verb: string) => strings(rule.verbs).some((v) => v === '*' || v === verb);

export const apiGroupMatches = (rule: PolicyRule, group: string) => strings(rule.apiGroups).some((g) => g === '*' || g === group);

/** `combined` is `resource/subresource`; a rule's `*` matches everything, and `*` + `/log` any resource's log subresource. */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of strings(rule.resources)) {
    if (r === '*' || r === combined) return true;
    if (!subresource) continue;
    if (r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

/** No resourceNames: any name (and no name: list, create). Otherwise only a request for one of those names. */
export const resourceNameMatches = (rule: PolicyRule, name: string) => strings(rule.resourceNames).length === 0 || strings(rule.resourceNames).includes(name);

export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return strings(rule.nonResourceURLs).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))));
}

/** RuleAllows of rbac.go. */
export function ruleAllows(attrs: Attributes, rule: PolicyRule): boolean {
  if (attrs.resourceRequest) {
    const sub = attrs.subresource ?? '';
    const combined = sub ? `${attrs.resource ?? ''}/${sub}` : (attrs.resource ?? '');
    return verbMatches(rule, attrs.verb) && apiGroupMatches(rule, attrs.group ?? '') && resourceMatches(rule, combined, sub) && resourceNameMatches(rule, attrs.name ?? '');
  }
  return verbMatches(rule, attrs.verb) && nonResourceURLMatches(rule, attrs.path ?? '');
}

// ---- rule.go: who a binding applies to, and which rules reach a user ---------------------------------------------

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
function roleReferenceRules(objects: RbacObjects, roleRef: RoleRef, bindingNamespace: string, getter: Getter): { rules: PolicyRule[] } | { error: KubeError } {
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
  for (const binding of objects.clusterRoleBindings()) {
    const i = appliesTo(user, binding.subjects, '');
    if (i < 0) continue;
    const roleRef: RoleRef = isObject(binding.roleRef) ? binding.roleRef : {};
    const resolved = roleReferenceRules(objects, roleRef, '', getter);
    if ('error' in resolved) {
      yield { error: resolved.error.message };
      continue;
    }
    const source = `ClusterRoleBinding ${JSON.stringify(binding.metadata?.name ?? '')} of ${roleRef.kind} ${JSON.stringify(roleRef.name ?? '')} to ${describeSubject(binding.subjects[i], '')}`;
    for (const rule of resolved.rules) yield { source, rule };
  }
  if (!namespace) return;
  for (const binding of objects.roleBindings(namespace)) {
    const i = appliesTo(user, binding.subjects, namespace);
    if (i < 0) continue;
    const roleRef: RoleRef = isObject(binding.roleRef) ? binding.roleRef : {};
    const resolved = roleReferenceRules(objects, roleRef, namespace, getter);
    if ('error' in resolved) {
      yield { error: resolved.error.message };
      continue;
    }
    const source = `RoleBinding ${JSON.stringify(`${binding.metadata?.name ?? ''}/${binding.metadata?.namespace ?? namespace}`)} of ${roleRef.kind} ${JSON.stringify(roleRef.name ?? '')} to ${describeSubject(binding.subjects[i], namespace)}`;
    for (const rule of resolved.rules) yield { source, rule };
  }
}

/** utilerrors.NewAggregate(errs).Error(): one message as is, several (deduplicated) as `[a, b]`. */
function aggregate(errors: string[]): string {
  const unique = [...new Set(errors)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
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

// ---- policy_comparator.go, policy_compact.go: does what a user holds cover what they grant? --------------------

/** BreakdownRule: one rule per group × resource × verb (× name), and per URL × verb. */
function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  const names = strings(rule.resourceNames);
  for (const group of strings(rule.apiGroups)) {
    for (const resource of strings(rule.resources)) {
      for (const verb of strings(rule.verbs)) {
        if (names.length > 0) for (const name of names) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] });
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
    }
  }
  for (const url of strings(rule.nonResourceURLs)) for (const verb of strings(rule.verbs)) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const hasAll = (set: string[], contains: string[]) => contains.every((c) => set.includes(c));

function resourceCoversAll(set: string[], covers: string[]): boolean {
  if (set.includes('*') || hasAll(set, covers)) return true;
  for (const path of covers) {
    if (set.includes(path)) continue;
    if (!path.includes('/')) return false;
    if (!set.includes(`*/${path.slice(path.indexOf('/') + 1)}`)) return false;
  }
  return true;
}

const nonResourceURLCovers = (owner: string, sub: string) => owner === sub || (owner.endsWith('*') && sub.startsWith(owner.replace(/\*+$/, '')));

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = strings(owner.verbs).includes('*') || hasAll(strings(owner.verbs), strings(sub.verbs));
  const groups = strings(owner.apiGroups).includes('*') || hasAll(strings(owner.apiGroups), strings(sub.apiGroups));
  const resources = resourceCoversAll(strings(owner.resources), strings(sub.resources));
  const urls = strings(sub.nonResourceURLs).every((path) => strings(owner.nonResourceURLs).some((o) => nonResourceURLCovers(o, path)));
  const ownerNames = strings(owner.resourceNames);
  const names = strings(sub.resourceNames).length === 0 ? ownerNames.length === 0 : ownerNames.length === 0 || hasAll(ownerNames, strings(sub.resourceNames));
  return verbs && groups && resources && names && urls;
}

/** Covers: whether `owner` grants everything `servant` does, and the atomic rules it does not. */
export function covers(owner: PolicyRule[], servant: PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing = servant.flatMap(breakdownRule).filter((sub) => !owner.some((o) => ruleCovers(o, sub)));
  return { covered: missing.length === 0, missing };
}

/** CompactRules: atomic rules on one group and resource, differing only by verb, as one rule. */
function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const compacted: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const rule of rules) {
    const isSimple =
      strings(rule.resourceNames).length === 0 && strings(rule.nonResourceURLs).length === 0 && strings(rule.apiGroups).length === 1 && strings(rule.resources).length === 1;
    if (!isSimple) {
      compacted.push(rule);
      continue;
    }
    const key = JSON.stringify([rule.apiGroups![0], rule.resources![0]]);
    const existing = simple.get(key);
    if (existing) existing.verbs = [...strings(existing.verbs), ...strings(rule.verbs)];
    else simple.set(key, clone(rule));
  }
  return [...compacted, ...simple.values()];
}

/** Go's %q of a []string: `["a" "b"]`. */
const goQuotedList = (list: string[]) => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;

/** CompactString: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`. */
export function compactString(rule: PolicyRule): string {
  const parts: string[] = [];
  if (strings(rule.apiGroups).length > 0) parts.push(`APIGroups:${goQuotedList(strings(rule.apiGroups))}`);
  if (strings(rule.resources).length > 0) parts.push(`Resources:${goQuotedList(strings(rule.resources))}`);
  if (strings(rule.nonResourceURLs).length > 0) parts.push(`NonResourceURLs:${goQuotedList(strings(rule.nonResourceURLs))}`);
  if (strings(rule.resourceNames).length > 0) parts.push(`ResourceNames:${goQuotedList(strings(rule.resourceNames))}`);
  if (strings(rule.verbs).length > 0) parts.push(`Verbs:${goQuotedList(strings(rule.verbs))}`);
  return `{${parts.join(', ')}}`;
}

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

// ---- escalation_check.go and the policybased storages ----------------------------------------------------------

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

// ---- the rest of what the API server does around RBAC -----------------------------------------------------------

/** What the authenticator gives a token's user besides its name: a service account's groups, or just authenticated. */
export function defaultGroups(username: string): string[] {
  const sa = username.match(/^system:serviceaccount:([^:]+):[^:]+$/);
  return sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`, 'system:authenticated'] : ['system:authenticated'];
}

/** SetDefaults_RoleBinding, SetDefaults_ClusterRoleBinding, SetDefaults_Subject (pkg/apis/rbac/v1/defaults.go). */
export function rbacDefaults(kind: string, obj: Obj): void {
  if (kind !== 'RoleBinding' && kind !== 'ClusterRoleBinding') return;
  if (isObject(obj.roleRef) && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = RBAC_GROUP;
  for (const s of Array.isArray(obj.subjects) ? obj.subjects : []) {
    if (isObject(s) && !s.apiGroup && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = RBAC_GROUP;
  }
}

const BOOTSTRAP_META = { labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } };

/**
 * What the API server's bootstrap policy stores that the fake keeps: cluster-admin (bound to no one here), and
 * system:basic-user bound to every authenticated user, so anyone may ask who they are and what they may do.
 */
export function bootstrapPolicy(): Obj[] {
  return [
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin', ...clone(BOOTSTRAP_META) },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'system:basic-user', ...clone(BOOTSTRAP_META) },
      rules: [
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:basic-user', ...clone(BOOTSTRAP_META) },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'system:basic-user' },
      subjects: [{ apiGroup: RBAC_GROUP, kind: 'Group', name: 'system:authenticated' }],
    },
  ];
}

/**
 * The name RequestInfo gives a list or watch: a fieldSelector requiring metadata.name to equal one valid path
 * segment makes it a request for that name (so resourceNames rules can allow it).
 */
function selectedName(fieldSelector: string | null): string | undefined {
  if (!fieldSelector) return undefined;
  for (const term of fieldSelector.split(',')) {
    const m = term.trim().match(/^metadata\.name\s*==?\s*(.*)$/);
    if (!m) continue;
    const name = m[1]!.trim();
    if (name === '.' || name === '..' || /[/%]/.test(name)) return undefined;
    return name;
  }
  return undefined;
}

/** A resource request's authorizer attributes, as RequestInfo makes them from its URL (and a list's fieldSelector). */
export function requestAttributes(
  route: { verb?: string; group: string; resource: string; sub?: string; namespace?: string; name?: string },
  fieldSelector: string | null,
): Attributes {
  const name = route.name ?? (route.verb === 'list' || route.verb === 'watch' ? selectedName(fieldSelector) : undefined);
  return { verb: route.verb ?? '', resourceRequest: true, group: route.group, resource: route.resource, subresource: route.sub, namespace: route.namespace, name };
}

/** A SelfSubjectAccessReview's spec as authorizer attributes. */
function reviewAttributes(spec: Obj | undefined): Attributes | undefined {
  const resource = isObject(spec?.resourceAttributes) ? spec.resourceAttributes : undefined;
  if (resource) {
    const str = (k: string) => (typeof resource[k] === 'string' ? (resource[k] as string) : '');
    return { verb: str('verb'), resourceRequest: true, group: str('group'), resource: str('resource'), subresource: str('subresource'), namespace: str('namespace'), name: str('name') };
  }
  const nonResource = isObject(spec?.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  if (nonResource) return { verb: String(nonResource.verb ?? ''), resourceRequest: false, path: String(nonResource.path ?? '') };
  return undefined;
}

const SSAR_KIND = { group: 'authorization.k8s.io', kind: 'SelfSubjectAccessReview' };

/**
 * What the API server answers a SelfSubjectAccessReview with (its spec validated as ValidateSelfSubjectAccessReviewSpec
 * does): the authorizer's decision, with its reason when it gave one.
 */
export function accessReviewStatus(spec: Obj, authorizeFn: Authorize): Obj {
  if (isObject(spec.resourceAttributes) && isObject(spec.nonResourceAttributes)) {
    const shown = `authorization.NonResourceAttributes{Path:${JSON.stringify(spec.nonResourceAttributes.path ?? '')}, Verb:${JSON.stringify(spec.nonResourceAttributes.verb ?? '')}}`;
    throw invalid(SSAR_KIND, '', [{ type: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', detail: `Invalid value: ${shown}: cannot be specified in combination with resourceAttributes` }]);
  }
  const attrs = reviewAttributes(spec);
  if (!attrs) {
    throw invalid(SSAR_KIND, '', [
      { type: 'FieldValueInvalid', field: 'spec.resourceAttributes', detail: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' },
    ]);
  }
  const decision = authorizeFn(attrs);
  return { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) };
}
