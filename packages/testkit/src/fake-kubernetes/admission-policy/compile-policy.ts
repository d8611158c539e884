/** Policies and bindings compiled as the API server would have stored them, or refused with every problem found. */
import { checkMatchResources, listOf } from './check-match-resources.js';
import { compileExpression, type CompiledExpression } from './compile-expression.js';
import type { CompiledVariable } from './lazy-variables.js';
import type { MatchResources } from './matches.js';
import { isObject, metadataOf, type Obj } from './objects.js';

export interface CompiledPolicy {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  matchConstraints: MatchResources;
  matchConditions: Array<{ name: string; expression: CompiledExpression }>;
  variables: CompiledVariable[];
  validations: Array<{ expression: CompiledExpression; message?: string; messageExpression?: CompiledExpression; reason?: string }>;
  auditAnnotations: Array<{ key: string; valueExpression: CompiledExpression }>;
}

export interface CompiledBinding {
  name: string;
  policyName: string;
  validationActions: string[];
  matchResources?: MatchResources;
}

const REASONS = new Set(['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge']);
const CEL_IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** Compiled once per distinct policy (by content). */
const compiledPolicies = new Map<string, CompiledPolicy>();

export function compilePolicy(policy: Obj): CompiledPolicy {
  const key = JSON.stringify(policy);
  const cached = compiledPolicies.get(key);
  if (cached) return cached;
  const name = String(metadataOf(policy).name ?? '');
  const spec = isObject(policy.spec) ? policy.spec : {};
  const problems: string[] = [];
  if (policy.kind !== undefined && policy.kind !== 'ValidatingAdmissionPolicy') problems.push(`kind ${String(policy.kind)} is not ValidatingAdmissionPolicy`);
  if (!name) problems.push('metadata.name: Required value');
  if (spec.paramKind !== undefined && spec.paramKind !== null) problems.push('spec.paramKind: policies with params are not supported by this evaluator');
  const failurePolicy = spec.failurePolicy ?? 'Fail';
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore') problems.push(`spec.failurePolicy: Unsupported value: ${JSON.stringify(failurePolicy)}`);
  if (!isObject(spec.matchConstraints)) problems.push('spec.matchConstraints: Required value');
  const matchConstraints = checkMatchResources(spec.matchConstraints ?? {}, 'spec.matchConstraints', problems);

  const variableNames = new Set<string>();
  const variables: CompiledVariable[] = [];
  listOf(spec.variables, 'spec.variables', problems).forEach((v, i) => {
    const where = `spec.variables[${i}]`;
    const vName = String(v.name ?? '');
    if (!CEL_IDENTIFIER.test(vName)) problems.push(`${where}.name: Invalid value: ${JSON.stringify(vName)}: must be a CEL identifier`);
    else if (variableNames.has(vName)) problems.push(`${where}.name: Duplicate value: ${JSON.stringify(vName)}`);
    // A variable sees only the variables before it.
    const expression = compileExpression(String(v.expression ?? ''), `${where}.expression`, new Set(variableNames), problems);
    variableNames.add(vName);
    variables.push({ name: vName, expression });
  });

  const conditionNames = new Set<string>();
  const matchConditions = listOf(spec.matchConditions, 'spec.matchConditions', problems).map((c, i) => {
    const where = `spec.matchConditions[${i}]`;
    const cName = String(c.name ?? '');
    if (!cName) problems.push(`${where}.name: Required value`);
    else if (conditionNames.has(cName)) problems.push(`${where}.name: Duplicate value: ${JSON.stringify(cName)}`);
    conditionNames.add(cName);
    return { name: cName, expression: compileExpression(String(c.expression ?? ''), `${where}.expression`, variableNames, problems) };
  });

  const validations = listOf(spec.validations, 'spec.validations', problems).map((v, i) => {
    const where = `spec.validations[${i}]`;
    const reason = v.reason === undefined || v.reason === null ? undefined : String(v.reason);
    if (reason !== undefined && !REASONS.has(reason)) problems.push(`${where}.reason: Unsupported value: ${JSON.stringify(reason)}: supported values: ${[...REASONS].map((r) => JSON.stringify(r)).join(', ')}`);
    return {
      expression: compileExpression(String(v.expression ?? ''), `${where}.expression`, variableNames, problems),
      ...(typeof v.message === 'string' && v.message !== '' ? { message: v.message } : {}),
      ...(typeof v.messageExpression === 'string' && v.messageExpression !== ''
        ? { messageExpression: compileExpression(v.messageExpression, `${where}.messageExpression`, variableNames, problems) }
        : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
  });
  const auditAnnotations = listOf(spec.auditAnnotations, 'spec.auditAnnotations', problems).map((a, i) => ({
    key: String(a.key ?? ''),
    valueExpression: compileExpression(String(a.valueExpression ?? ''), `spec.auditAnnotations[${i}].valueExpression`, variableNames, problems),
  }));
  if (validations.length === 0 && auditAnnotations.length === 0) problems.push('spec.validations: Required value: validations or auditAnnotations must contain at least one item');

  if (problems.length > 0) throw new Error(`ValidatingAdmissionPolicy ${JSON.stringify(name)}: ${problems.join('; ')}`);
  const compiled: CompiledPolicy = { name, failurePolicy: failurePolicy as 'Fail' | 'Ignore', matchConstraints, matchConditions, variables, validations, auditAnnotations };
  if (compiledPolicies.size >= 256) compiledPolicies.clear();
  compiledPolicies.set(key, compiled);
  return compiled;
}

export function compileBinding(binding: Obj): CompiledBinding {
  const name = String(metadataOf(binding).name ?? '');
  const spec = isObject(binding.spec) ? binding.spec : {};
  const problems: string[] = [];
  if (binding.kind !== undefined && binding.kind !== 'ValidatingAdmissionPolicyBinding') problems.push(`kind ${String(binding.kind)} is not ValidatingAdmissionPolicyBinding`);
  if (!name) problems.push('metadata.name: Required value');
  const policyName = typeof spec.policyName === 'string' ? spec.policyName : '';
  if (!policyName) problems.push('spec.policyName: Required value');
  if (spec.paramRef !== undefined && spec.paramRef !== null) problems.push('spec.paramRef: bindings with params are not supported by this evaluator');
  const actions = Array.isArray(spec.validationActions) ? spec.validationActions.map(String) : [];
  if (actions.length === 0) problems.push('spec.validationActions: Required value');
  for (const a of actions) if (!['Deny', 'Warn', 'Audit'].includes(a)) problems.push(`spec.validationActions: Unsupported value: ${JSON.stringify(a)}`);
  if (new Set(actions).size !== actions.length) problems.push('spec.validationActions: Duplicate value');
  if (actions.includes('Deny') && actions.includes('Warn')) problems.push('spec.validationActions: Invalid value: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)');
  const matchResources = spec.matchResources === undefined || spec.matchResources === null ? undefined : checkMatchResources(spec.matchResources, 'spec.matchResources', problems);
  if (problems.length > 0) throw new Error(`ValidatingAdmissionPolicyBinding ${JSON.stringify(name)}: ${problems.join('; ')}`);
  return { name, policyName, validationActions: actions, ...(matchResources ? { matchResources } : {}) };
}
