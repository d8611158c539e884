/** Quantities in ResourceQuotas, LimitRanges and containers' resources. */
import { isObject, type Obj } from '../merge.js';
import { parseQuantity, QUANTITY_PATTERN } from '../quantity.js';
import { invalidValue, type FieldError } from '../status.js';

export function quantityMapErrors(map: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(map)) return;
  for (const [name, q] of Object.entries(map)) {
    if (parseQuantity(q) === undefined) errors.push(invalidValue(`${field}[${name}]`, q, `quantities must match the regular expression '${QUANTITY_PATTERN}'`));
  }
}

export function resourceQuotaErrors(obj: Obj, _old: Obj | undefined, errors: FieldError[]): void {
  quantityMapErrors(obj.spec?.hard, 'spec.hard', errors);
}

export function limitRangeErrors(obj: Obj, _old: Obj | undefined, errors: FieldError[]): void {
  (Array.isArray(obj.spec?.limits) ? obj.spec.limits : []).forEach((l: Obj, i: number) => {
    for (const k of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) quantityMapErrors(l?.[k], `spec.limits[${i}].${k}`, errors);
  });
}
