/** Rule matching (pkg/apis/rbac/v1/evaluation_helpers.go). */
import { strings, type Attributes, type PolicyRule } from './types.js';

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
