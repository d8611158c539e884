/**
 * Which requests a policy's matchConstraints and a binding's matchResources select (plugin/policy/matching and
 * plugin/webhook/predicates).
 */
import type { Attributes } from './attributes.js';
import { goQuote } from './go-quote.js';
import { isNamespacesResource, labelsOf, metadataOf, type Obj } from './objects.js';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope?: string;
  resourceNames?: string[];
}

export interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: Rule[];
  excludeResourceRules?: Rule[];
}

/** matching.Matcher.Matches: namespaceSelector, objectSelector, excludeResourceRules, resourceRules. */
export function matches(criteria: MatchResources, a: Attributes): { matches: boolean; error?: string } {
  const ns = matchNamespaceSelector(criteria.namespaceSelector, a);
  if (!ns.matches && ns.error === undefined) return { matches: false };
  const objectMatches = matchObjectSelector(criteria.objectSelector, a);
  if (!objectMatches) return { matches: false };
  if (matchesRules(criteria.excludeResourceRules ?? [], a)) return { matches: false };
  const rules = criteria.resourceRules ?? [];
  if (rules.length > 0 && !matchesRules(rules, a)) return { matches: false };
  if (ns.error !== undefined) return { matches: false, error: ns.error };
  return { matches: true };
}

/** predicates/namespace: MatchNamespaceSelector and GetNamespaceLabels. */
function matchNamespaceSelector(selector: LabelSelector | undefined, a: Attributes): { matches: boolean; error?: string } {
  if (a.namespace === '' && a.resource.resource !== 'namespaces') return { matches: true };
  if (isEmptySelector(selector)) return { matches: true };
  let labels: Record<string, string>;
  if (a.resource.resource === 'namespaces' && a.subResource === '' && (a.operation === 'CREATE' || a.operation === 'UPDATE')) {
    labels = labelsOf(a.object);
  } else {
    // The stored Namespace: the one the request names, or, for a Namespace's own request, the stored one.
    const stored = a.namespaceObject ?? (isNamespacesResource(a.resource) ? a.oldObject : null);
    if (!stored || metadataOf(stored).name !== a.namespace) return { matches: false, error: `namespaces ${goQuote(a.namespace)} not found` };
    labels = labelsOf(stored);
  }
  return { matches: selectorMatches(selector!, labels) };
}

/** predicates/object: the selector against the object's labels or the old object's. */
function matchObjectSelector(selector: LabelSelector | undefined, a: Attributes): boolean {
  if (isEmptySelector(selector)) return true;
  const test = (o: Obj | null) => o !== null && selectorMatches(selector!, labelsOf(o));
  return test(a.object) || test(a.oldObject);
}

const isEmptySelector = (s: LabelSelector | undefined) => !s || ((s.matchLabels === undefined || Object.keys(s.matchLabels).length === 0) && (s.matchExpressions ?? []).length === 0);

/** metav1.LabelSelectorAsSelector, checked when the policy is compiled (checkSelector). */
function selectorMatches(s: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** matching.go matchesResourceRules with predicates/rules' Matcher (matchPolicy Exact). */
function matchesRules(rules: Rule[], a: Attributes): boolean {
  for (const rule of rules) {
    if (!ruleMatches(rule, a)) continue;
    const names = rule.resourceNames ?? [];
    if (names.length === 0 || names.includes(a.name)) return true;
  }
  return false;
}

function ruleMatches(rule: Rule, a: Attributes): boolean {
  const exactOrWildcard = (items: string[], requested: string) => items.some((i) => i === '*' || i === requested);
  const isNamespaceResource = a.resource.group === '' && a.resource.version === 'v1' && a.resource.resource === 'namespaces';
  const scope = rule.scope ?? '*';
  const scopeMatches =
    scope === '*' ||
    (scope === 'Namespaced' && !isNamespaceResource && a.namespace !== '') ||
    (scope === 'Cluster' && (isNamespaceResource || a.namespace === ''));
  const operationMatches = rule.operations.some((op) => op === '*' || op === a.operation);
  const resourceMatches = rule.resources.some((r) => {
    const slash = r.indexOf('/');
    const [res, sub] = slash < 0 ? [r, ''] : [r.slice(0, slash), r.slice(slash + 1)];
    return (res === '*' || res === a.resource.resource) && (sub === '*' || sub === a.subResource);
  });
  return scopeMatches && operationMatches && exactOrWildcard(rule.apiGroups, a.resource.group) && exactOrWildcard(rule.apiVersions, a.resource.version) && resourceMatches;
}
