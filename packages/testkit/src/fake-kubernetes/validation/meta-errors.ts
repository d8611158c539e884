/** ObjectMeta's rules: the name each kind allows, labels and annotations. */
import { isObject, type Obj } from '../merge.js';
import { dns1035LabelErrors, dns1123LabelErrors, dns1123SubdomainErrors, labelKeyErrors, labelValueErrors } from '../names.js';
import type { ResourceDef } from '../resources.js';
import { invalidValue, required, type FieldError } from '../status.js';
import { pathSegmentErrors, RBAC_KINDS } from './rbac-errors.js';

export function metaErrors(def: ResourceDef, obj: Obj, errors: FieldError[]): void {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') errors.push(required('metadata.name', 'name or generateName is required'));
  else {
    const check = def.kind === 'Namespace' ? dns1123LabelErrors : def.kind === 'Service' ? dns1035LabelErrors : RBAC_KINDS.includes(def.kind) ? pathSegmentErrors : dns1123SubdomainErrors;
    for (const e of check(name)) errors.push(invalidValue('metadata.name', name, e));
  }
  labelErrors(meta.labels, 'metadata.labels', errors);
  if (isObject(meta.annotations)) {
    let size = 0;
    for (const [k, v] of Object.entries(meta.annotations)) {
      for (const e of labelKeyErrors(k)) errors.push(invalidValue('metadata.annotations', k, e));
      size += k.length + String(v).length;
    }
    if (size > 256 * 1024) errors.push({ type: 'FieldValueTooLong', field: 'metadata.annotations', detail: 'Too long: must have at most 262144 bytes' });
  }
}

export function labelErrors(labels: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    for (const e of labelKeyErrors(k)) errors.push(invalidValue(field, k, e));
    if (typeof v === 'string') for (const e of labelValueErrors(v)) errors.push(invalidValue(field, v, e));
  }
}
