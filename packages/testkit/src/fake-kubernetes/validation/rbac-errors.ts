/** ValidateRole, ValidateClusterRole and their bindings' validation (pkg/apis/rbac/validation/validation.go). */
import { isObject, type Obj } from '../merge.js';
import { dns1123SubdomainErrors } from '../names.js';
import type { ResourceDef } from '../resources.js';
import { invalidValue, notSupported, required, type FieldError } from '../status.js';
import { count, list } from './list.js';

export const RBAC_KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/** path.IsValidPathSegmentName: how RBAC names its objects (colons allowed, as in system:basic-user). */
export function pathSegmentErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
}

/** ValidateRole / ValidateClusterRole's validatePolicyRule (pkg/apis/rbac/validation/validation.go). */
export function policyRuleErrors(rules: unknown, namespaced: boolean, errors: FieldError[]): void {
  list(rules).forEach((rule, i) => {
    if (!isObject(rule)) return;
    const at = `rules[${i}]`;
    if (count(rule.verbs) === 0) errors.push(required(`${at}.verbs`, 'verbs must contain at least one value'));
    if (count(rule.nonResourceURLs) > 0) {
      const urls = `[]string{${list(rule.nonResourceURLs).map((u) => JSON.stringify(u)).join(', ')}}`;
      if (namespaced) errors.push({ type: 'FieldValueInvalid', field: `${at}.nonResourceURLs`, detail: `Invalid value: ${urls}: namespaced rules cannot apply to non-resource URLs` });
      if (count(rule.apiGroups) > 0 || count(rule.resources) > 0 || count(rule.resourceNames) > 0) {
        errors.push({ type: 'FieldValueInvalid', field: `${at}.nonResourceURLs`, detail: `Invalid value: ${urls}: rules cannot apply to both regular resources and non-resource URLs` });
      }
      return;
    }
    if (count(rule.apiGroups) === 0) errors.push(required(`${at}.apiGroups`, 'resource rules must supply at least one api group'));
    if (count(rule.resources) === 0) errors.push(required(`${at}.resources`, 'resource rules must supply at least one resource'));
    if (count(rule.resourceNames) > 0 && count(rule.resources) > 1) errors.push(required(`${at}.resourceNames`, 'resource names cannot apply to multiple resources'));
  });
}

/** ValidateRoleBinding / ValidateClusterRoleBinding, and their updates' immutable roleRef. */
export function bindingErrors(obj: Obj, old: Obj | undefined, errors: FieldError[], def: ResourceDef): void {
  const roleRef = isObject(obj.roleRef) ? obj.roleRef : {};
  const kinds = def.kind === 'RoleBinding' ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (roleRef.apiGroup !== 'rbac.authorization.k8s.io') errors.push(notSupported('roleRef.apiGroup', roleRef.apiGroup ?? '', ['rbac.authorization.k8s.io']));
  if (!kinds.includes(roleRef.kind)) errors.push(notSupported('roleRef.kind', roleRef.kind ?? '', kinds));
  if (typeof roleRef.name !== 'string' || roleRef.name === '') errors.push(required('roleRef.name'));
  else for (const e of pathSegmentErrors(roleRef.name)) errors.push(invalidValue('roleRef.name', roleRef.name, e));
  list(obj.subjects).forEach((subject, i) => {
    if (!isObject(subject)) return;
    const at = `subjects[${i}]`;
    const name = typeof subject.name === 'string' ? subject.name : '';
    if (name === '') errors.push(required(`${at}.name`));
    switch (subject.kind) {
      case 'ServiceAccount':
        if (name) for (const e of dns1123SubdomainErrors(name)) errors.push(invalidValue(`${at}.name`, name, e));
        if (subject.apiGroup) errors.push(notSupported(`${at}.apiGroup`, subject.apiGroup, ['']));
        if (def.kind === 'ClusterRoleBinding' && !subject.namespace) errors.push(required(`${at}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (name === '') errors.push(invalidValue(`${at}.name`, '', `${subject.kind === 'User' ? 'user' : 'group'} name cannot be empty`));
        if (subject.apiGroup !== 'rbac.authorization.k8s.io') errors.push(notSupported(`${at}.apiGroup`, subject.apiGroup ?? '', ['rbac.authorization.k8s.io']));
        break;
      default:
        errors.push(notSupported(`${at}.kind`, subject.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
  const oldRef = isObject(old?.roleRef) ? old.roleRef : undefined;
  if (old && !(oldRef && oldRef.apiGroup === roleRef.apiGroup && oldRef.kind === roleRef.kind && oldRef.name === roleRef.name)) {
    const shown = `rbac.RoleRef{APIGroup:${JSON.stringify(roleRef.apiGroup ?? '')}, Kind:${JSON.stringify(roleRef.kind ?? '')}, Name:${JSON.stringify(roleRef.name ?? '')}}`;
    errors.push({ type: 'FieldValueInvalid', field: 'roleRef', detail: `Invalid value: ${shown}: cannot change roleRef` });
  }
}
