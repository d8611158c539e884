/** One policy's decisions on a request (plugin/policy/validating/validator.go). */
import { aggregate } from '../aggregate.js';
import type { Inputs } from './cel-inputs.js';
import type { CompiledPolicy } from './compile-policy.js';
import { celTypeName, evaluate } from './compile-expression.js';
import { activationOf } from './lazy-variables.js';

interface Decision {
  action: 'admit' | 'deny';
  message: string;
  reason?: string;
}

/** validator.go Validate for one binding (and no params). */
export function validate(policy: CompiledPolicy, inputs: Inputs): { decisions: Decision[]; auditAnnotationErrors: string[] } {
  const onError = policy.failurePolicy === 'Ignore' ? 'admit' : 'deny';
  if (policy.matchConditions.length > 0) {
    // webhook/matchconditions/matcher.go: a false condition skips the policy even past an error.
    const activation = activationOf(inputs, policy.variables);
    const errors: string[] = [];
    for (const condition of policy.matchConditions) {
      const r = evaluate(condition.expression, activation);
      if (r.error !== undefined) errors.push(r.error);
      else if (r.value === false) return { decisions: [], auditAnnotationErrors: [] };
    }
    if (errors.length > 0) {
      if (policy.failurePolicy === 'Ignore') return { decisions: [], auditAnnotationErrors: [] };
      return { decisions: [{ action: onError, message: aggregate(errors) }], auditAnnotationErrors: [] };
    }
  }

  // Validations, then their messageExpressions, then audit annotations: one activation (and so one evaluation of
  // each variable) each, as each is a ForInput of its own filter.
  const validationActivation = activationOf(inputs, policy.variables);
  const results = policy.validations.map((v) => evaluate(v.expression, validationActivation));
  const messageActivation = activationOf(inputs, policy.variables);
  const messages = policy.validations.map((v) => (v.messageExpression ? evaluate(v.messageExpression, messageActivation) : undefined));
  const decisions = policy.validations.map((validation, i): Decision => {
    const result = results[i]!;
    if (result.error !== undefined) return { action: onError, message: result.error };
    if (result.value === true) return { action: 'admit', message: '' };
    let message = '';
    const fromExpression = messages[i];
    if (fromExpression && fromExpression.error === undefined && typeof fromExpression.value === 'string') {
      message = fromExpression.value.trim();
      if (Buffer.byteLength(message) > MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES || message.includes('\n')) message = '';
    }
    if (message === '' && validation.message) message = validation.message.trim();
    if (message === '') message = `failed expression: ${validation.expression.source.trim()}`;
    return { action: 'deny', message, reason: validation.reason ?? 'Invalid' };
  });

  const auditAnnotationErrors: string[] = [];
  const auditActivation = activationOf(inputs, policy.variables);
  for (const annotation of policy.auditAnnotations) {
    const r = evaluate(annotation.valueExpression, auditActivation);
    if (r.error !== undefined) {
      if (policy.failurePolicy === 'Fail') auditAnnotationErrors.push(r.error);
    } else if (typeof r.value !== 'string' && r.value !== null) {
      auditAnnotationErrors.push(
        `valueExpression '${annotation.valueExpression.source}' resulted in unsupported return type: ${celTypeName(r.value)}. Return type must be either string or null.`,
      );
    }
  }
  return { decisions, auditAnnotationErrors };
}

const MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES = 5 * 1024;
