import type { Obj } from './merge.js';
import { invalidValue, type FieldError } from './status.js';

/** One violation as ajv (which kubernetes-models' validate() runs) reports it. */
export interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * Runs a kubernetes-models validator on `obj` and words each violation with `describe` (undefined: not reported); a
 * validator that throws anything but ajv's errors is one error, with its message.
 */
export function schemaViolations(validate: (obj: Obj) => void, obj: Obj, describe: (e: AjvError) => FieldError | undefined): FieldError[] {
  try {
    validate(obj);
    return [];
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors)) return [invalidValue('', null, String((err as Error).message))];
    return errors.map(describe).filter((e): e is FieldError => e !== undefined);
  }
}
