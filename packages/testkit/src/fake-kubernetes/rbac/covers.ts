/** Does what a user holds cover what they grant (policy_comparator.go, policy_compact.go)? */
import { clone } from '../merge.js';
import { strings, type PolicyRule } from './types.js';

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
export function compactRules(rules: PolicyRule[]): PolicyRule[] {
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
export const goQuotedList = (list: string[]) => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;

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
