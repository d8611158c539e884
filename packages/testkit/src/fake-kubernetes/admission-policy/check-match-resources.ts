/**
 * What the API server refuses to store in matchConstraints and matchResources (selectors and rules), checked
 * when a policy or binding is compiled.
 */
import type { LabelSelector, MatchResources, Rule } from './matches.js';
import { isObject, type Obj } from './objects.js';

const OPERATIONS = new Set(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const SELECTOR_OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

export function listOf(value: unknown, where: string, problems: string[]): Obj[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isObject)) {
    problems.push(`${where}: must be a list of objects`);
    return [];
  }
  return value;
}

export function checkMatchResources(value: unknown, where: string, problems: string[]): MatchResources {
  if (!isObject(value)) {
    problems.push(`${where}: must be an object`);
    return {};
  }
  if (value.matchPolicy !== undefined && value.matchPolicy !== 'Exact' && value.matchPolicy !== 'Equivalent') problems.push(`${where}.matchPolicy: Unsupported value: ${JSON.stringify(value.matchPolicy)}`);
  const out: MatchResources = {};
  for (const field of ['namespaceSelector', 'objectSelector'] as const) {
    if (value[field] === undefined || value[field] === null) continue;
    out[field] = checkSelector(value[field], `${where}.${field}`, problems);
  }
  for (const field of ['resourceRules', 'excludeResourceRules'] as const) {
    out[field] = listOf(value[field], `${where}.${field}`, problems).map((r, i) => checkRule(r, `${where}.${field}[${i}]`, problems));
  }
  return out;
}

function checkSelector(value: unknown, where: string, problems: string[]): LabelSelector {
  if (!isObject(value)) {
    problems.push(`${where}: must be an object`);
    return {};
  }
  const selector = value as LabelSelector;
  for (const [i, e] of (selector.matchExpressions ?? []).entries()) {
    const values = e.values ?? [];
    if (!SELECTOR_OPERATORS.has(e.operator)) problems.push(`${where}.matchExpressions[${i}].operator: Invalid value: ${JSON.stringify(e.operator)}: not a valid selector operator`);
    else if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) problems.push(`${where}.matchExpressions[${i}].values: Required value: must be specified when \`operator\` is 'In' or 'NotIn'`);
    else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0) problems.push(`${where}.matchExpressions[${i}].values: Forbidden: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`);
  }
  return selector;
}

function checkRule(rule: Obj, where: string, problems: string[]): Rule {
  const stringList = (field: string): string[] => {
    const v = rule[field];
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
      problems.push(`${where}.${field}: Required value`);
      return [];
    }
    return v;
  };
  const out: Rule = { apiGroups: stringList('apiGroups'), apiVersions: stringList('apiVersions'), operations: stringList('operations'), resources: stringList('resources') };
  for (const op of out.operations) if (!OPERATIONS.has(op)) problems.push(`${where}.operations: Unsupported value: ${JSON.stringify(op)}`);
  // admissionregistration validation: validateRule and validateResources.
  if (out.apiGroups.length > 1 && out.apiGroups.includes('*')) problems.push(`${where}.apiGroups: Invalid value: if '*' is present, must not specify other API groups`);
  if (out.apiVersions.length > 1 && out.apiVersions.includes('*')) problems.push(`${where}.apiVersions: Invalid value: if '*' is present, must not specify other API versions`);
  if (out.operations.length > 1 && out.operations.includes('*')) problems.push(`${where}.operations: Invalid value: if '*' is present, must not specify other operations`);
  const withWildcardSubresource = new Set<string>();
  const withWildcardResource = new Set<string>();
  let resourceWithoutSubresource = false;
  out.resources.forEach((resSub, i) => {
    if (resSub === '') problems.push(`${where}.resources[${i}]: Required value`);
    const slash = resSub.indexOf('/');
    if (slash < 0) {
      resourceWithoutSubresource ||= resSub !== '*';
      return;
    }
    const [res, sub] = [resSub.slice(0, slash), resSub.slice(slash + 1)];
    if (withWildcardSubresource.has(res)) problems.push(`${where}.resources[${i}]: Invalid value: if '${res}/*' is present, must not specify ${resSub}`);
    if (withWildcardResource.has(sub)) problems.push(`${where}.resources[${i}]: Invalid value: if '*/${sub}' is present, must not specify ${resSub}`);
    if (sub === '*') withWildcardSubresource.add(res);
    if (res === '*') withWildcardResource.add(sub);
  });
  if (out.resources.length > 1 && out.resources.includes('*/*')) problems.push(`${where}.resources: Invalid value: if '*/*' is present, must not specify other resources`);
  if (out.resources.includes('*') && resourceWithoutSubresource) problems.push(`${where}.resources: Invalid value: if '*' is present, must not specify other resources without subresources`);
  if (rule.scope !== undefined) {
    if (!['*', 'Cluster', 'Namespaced'].includes(String(rule.scope))) problems.push(`${where}.scope: Unsupported value: ${JSON.stringify(rule.scope)}`);
    out.scope = String(rule.scope);
  }
  if (Array.isArray(rule.resourceNames)) out.resourceNames = rule.resourceNames.map(String);
  return out;
}
