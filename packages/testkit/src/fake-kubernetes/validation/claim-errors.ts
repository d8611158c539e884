import { deepEqual, isObject, type Obj } from '../merge.js';
import { parseQuantity } from '../quantity.js';
import { forbiddenField, invalidValue, required, type FieldError } from '../status.js';

/** ValidatePersistentVolumeClaim / ValidatePersistentVolumeClaimUpdate: after creation only requests (expansion) may change. */
export function claimErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0) errors.push(required('spec.accessModes', 'at least 1 access mode is required'));
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) errors.push(required('spec.resources[storage]'));
  else if ((parseQuantity(storage) ?? 0) <= 0) errors.push(invalidValue('spec.resources[storage]', storage, 'must be greater than zero'));
  if (!old || !isObject(old.spec)) return;
  const withoutRequests = (s: Obj) => ({ ...s, resources: { ...(s.resources ?? {}), requests: undefined } });
  // spec.volumeName is the binder's to set once.
  const comparable = (s: Obj) => ({ ...withoutRequests(s), volumeName: undefined });
  if (!deepEqual(stripUndefined(comparable(spec)), stripUndefined(comparable(old.spec))) || (old.spec.volumeName && old.spec.volumeName !== spec.volumeName)) {
    errors.push(forbiddenField('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  } else if ((parseQuantity(storage) ?? 0) < (parseQuantity(old.spec.resources?.requests?.storage) ?? 0)) {
    errors.push(forbiddenField('spec.resources.requests.storage', 'field can not be less than previous value'));
  }
}

const stripUndefined = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));
