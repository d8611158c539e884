/**
 * How apiextensions-apiserver validates a custom resource, after the metadata checks every kind gets: the CRD's
 * OpenAPI schema (here the kind's schema from its kubernetes-models package, compiled by ajv), its errors worded as
 * kubeOpenAPIResultToFieldErrors words go-openapi's; then, unless one of those errors leaves the object without the
 * shape its rules were written for (hasBlockingErr), the CRD's x-kubernetes-validations CEL rules, reported as
 * `<field>: Invalid value: "object": <rule message>`.
 */
import type { Obj } from './merge.js';
import { schemaViolations, type AjvError } from './schema-violations.js';
import { fieldPath, invalidValue, notSupported, required, tooLong, tooMany, typeInvalid, type FieldError } from './status.js';

/** The CEL rules of a CRD, transliterated: `old` is the stored object on updates (transition rules use it). */
export type CrdRules = (obj: Obj, old: Obj | undefined) => FieldError[];

/** The JSON type go-openapi names in its type errors. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** One schema violation as the API server reports it for a custom resource. */
function crdSchemaError(obj: Obj, e: AjvError): FieldError | undefined {
  const { field, value } = fieldPath(obj, e.instancePath);
  const limit = e.params.limit as number;
  switch (e.keyword) {
    case 'required':
      return required(`${field ? `${field}.` : ''}${String(e.params.missingProperty)}`);
    case 'enum':
      return notSupported(field, value, (e.params.allowedValues as unknown[]).map(String));
    case 'type':
      return typeInvalid(field, value, `${field} in body must be of type ${String(e.params.type)}: ${JSON.stringify(jsonType(value))}`);
    case 'maxItems':
      return tooMany(field, Array.isArray(value) ? value.length : -1, limit);
    case 'maxLength':
      return tooLong(field, limit);
    case 'pattern':
      return invalidValue(field, value, `${field} in body should match '${String(e.params.pattern)}'`);
    case 'minLength':
      return invalidValue(field, value, `${field} in body should be at least ${limit} chars long`);
    case 'minItems':
      return invalidValue(field, value, `${field} in body should have at least ${limit} items`);
    case 'minimum':
      return invalidValue(field, value, `${field} in body should be greater than or equal to ${limit}`);
    case 'maximum':
      return invalidValue(field, value, `${field} in body should be less than or equal to ${limit}`);
    case 'format':
      // int32/int64 formats: the range checks above already speak for them.
      return undefined;
    default:
      return invalidValue(field, value, e.message ?? e.keyword);
  }
}

function crdSchemaErrors(validate: ((obj: Obj) => void) | undefined, obj: Obj): FieldError[] {
  return validate ? schemaViolations(validate, obj, (e) => crdSchemaError(obj, e)) : [];
}

const BLOCKING = new Set<FieldError['type']>(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

/**
 * customResourceStrategy.Validate after the metadata checks (`errors`, appended to): schema, then CEL rules unless
 * an error so far blocks them.
 */
export function customResourceErrors(errors: FieldError[], validate: ((obj: Obj) => void) | undefined, rules: CrdRules | undefined, obj: Obj, old: Obj | undefined): void {
  errors.push(...crdSchemaErrors(validate, obj));
  if (!rules) return;
  if (errors.some((e) => BLOCKING.has(e.type))) {
    errors.push(invalidValue('<nil>', 'null', 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation'));
    return;
  }
  errors.push(...rules(obj, old));
}

/** A failed x-kubernetes-validations rule on a field of JSON type `type`. */
export const ruleError = (field: string, type: 'object' | 'array' | 'string', message: string): FieldError => invalidValue(field, type, message);
