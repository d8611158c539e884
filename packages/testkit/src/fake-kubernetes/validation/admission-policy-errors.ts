/** ValidatingAdmissionPolicies and their bindings, checked as the API server checks them before storing. */
import { isObject, type Obj } from '../merge.js';
import { dns1123SubdomainErrors } from '../names.js';
import type { ResourceDef } from '../resources.js';
import { duplicate, forbiddenField, invalidValue, notSupported, required, type FieldError } from '../status.js';
import { count, list } from './list.js';

/** validateMatchResources: what defaulting fills in must be there and be one of the known values. */
function matchResourcesErrors(match: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(match)) return;
  if (match.matchPolicy === undefined) errors.push(required(`${field}.matchPolicy`));
  else if (!['Equivalent', 'Exact'].includes(match.matchPolicy)) errors.push(notSupported(`${field}.matchPolicy`, match.matchPolicy, ['Equivalent', 'Exact']));
  if (match.namespaceSelector === undefined) errors.push(required(`${field}.namespaceSelector`));
  if (match.objectSelector === undefined) errors.push(required(`${field}.objectSelector`));
}

/**
 * ValidateValidatingAdmissionPolicy and ValidateValidatingAdmissionPolicyBinding
 * (pkg/apis/admissionregistration/validation/validation.go), without compiling the CEL expressions.
 */
export function admissionPolicyErrors(obj: Obj, _old: Obj | undefined, errors: FieldError[], def: ResourceDef): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  if (def.kind === 'ValidatingAdmissionPolicy') {
    if (spec.failurePolicy === undefined) errors.push(required('spec.failurePolicy'));
    else if (!['Fail', 'Ignore'].includes(spec.failurePolicy)) errors.push(notSupported('spec.failurePolicy', spec.failurePolicy, ['Fail', 'Ignore']));
    if (!isObject(spec.matchConstraints)) errors.push(required('spec.matchConstraints'));
    else {
      matchResourcesErrors(spec.matchConstraints, 'spec.matchConstraints', errors);
      if (count(spec.matchConstraints.resourceRules) === 0) errors.push(required('spec.matchConstraints.resourceRules'));
    }
    if (count(spec.validations) === 0 && count(spec.auditAnnotations) === 0) {
      errors.push(required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
      errors.push(required('spec.auditAnnotations', 'validations or auditAnnotations must contain at least one item'));
    }
    list(spec.validations).forEach((v, i) => {
      if (!isObject(v)) return;
      const at = `spec.validations[${i}]`;
      if (typeof v.expression !== 'string' || v.expression.trim() === '') errors.push(required(`${at}.expression`, 'expression is not specified'));
      if (typeof v.message === 'string' && v.message.length > 0) {
        if (v.message.trim() === '') errors.push(invalidValue(`${at}.message`, v.message, 'message must be non-empty if specified'));
        else if (/[\n\r]/.test(v.message.trim())) errors.push(invalidValue(`${at}.message`, v.message, 'message must not contain line breaks'));
      }
      const reasons = ['Forbidden', 'Invalid', 'RequestEntityTooLarge', 'Unauthorized'];
      if (v.reason !== undefined && !reasons.includes(v.reason)) errors.push(notSupported(`${at}.reason`, v.reason, reasons));
    });
    return;
  }
  if (typeof spec.policyName !== 'string' || spec.policyName === '') errors.push(required('spec.policyName'));
  else for (const e of dns1123SubdomainErrors(spec.policyName)) errors.push(invalidValue('spec.policyName', spec.policyName, e));
  if (isObject(spec.paramRef)) {
    const ref = spec.paramRef;
    if (ref.name && ref.selector !== undefined) {
      errors.push(forbiddenField('spec.paramRef.name', 'name and selector are mutually exclusive'));
      errors.push(forbiddenField('spec.paramRef.selector', 'name and selector are mutually exclusive'));
    }
    if (!ref.name && ref.selector === undefined) errors.push(required('spec.paramRef', 'one of name or selector must be specified'));
    if (!ref.parameterNotFoundAction) errors.push(required('spec.paramRef.parameterNotFoundAction'));
    else if (!['Deny', 'Allow'].includes(ref.parameterNotFoundAction)) errors.push(notSupported('spec.paramRef.parameterNotFoundAction', ref.parameterNotFoundAction, ['Deny', 'Allow']));
  }
  matchResourcesErrors(spec.matchResources, 'spec.matchResources', errors);
  const actions = list(spec.validationActions);
  const seen = new Set<unknown>();
  actions.forEach((a, i) => {
    if (!['Audit', 'Deny', 'Warn'].includes(a as string)) errors.push(notSupported(`spec.validationActions[${i}]`, a, ['Audit', 'Deny', 'Warn']));
    if (seen.has(a)) errors.push(duplicate(`spec.validationActions[${i}]`, a));
    seen.add(a);
  });
  if (seen.has('Deny') && seen.has('Warn')) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.validationActions',
      detail: `Invalid value: []admissionregistration.ValidationAction{${actions.map((a) => JSON.stringify(a)).join(', ')}}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)`,
    });
  }
  if (seen.size === 0) errors.push(required('spec.validationActions', 'at least one validation action is required'));
}
