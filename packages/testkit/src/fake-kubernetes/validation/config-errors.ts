/** Secrets and ConfigMaps: their data's keys, encoding, size and immutability. */
import { deepEqual, isObject, type Obj } from '../merge.js';
import { configKeyErrors } from '../names.js';
import type { ResourceDef } from '../resources.js';
import { badRequest, forbiddenField, invalidValue, required, type FieldError } from '../status.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Secret data is []byte in Go: bad base64 fails decoding, a 400 before validation runs. */
export function checkBase64Data(def: ResourceDef, obj: Obj): void {
  if (def.kind !== 'Secret' || !isObject(obj.data)) return;
  for (const value of Object.values(obj.data)) {
    if (typeof value !== 'string') continue;
    if (BASE64.test(value) && value.length % 4 === 0) continue;
    let at = [...value].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
    if (at < 0) at = value.length - (value.length % 4);
    throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at}`);
  }
}

export function secretErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  let size = 0;
  for (const [k, v] of Object.entries(isObject(obj.data) ? obj.data : {})) {
    for (const e of configKeyErrors(k)) errors.push(invalidValue('data', k, e));
    size += Buffer.from(String(v), 'base64').length;
  }
  if (size > 1024 * 1024) errors.push({ type: 'FieldValueTooLong', field: 'data', detail: 'Too long: must have at most 1048576 bytes' });
  const data = isObject(obj.data) ? obj.data : {};
  if (obj.type === 'kubernetes.io/tls') {
    for (const key of ['tls.crt', 'tls.key']) if (!(key in data)) errors.push(required(`data[${key}]`));
  }
  if (obj.type === 'kubernetes.io/dockerconfigjson' && !('.dockerconfigjson' in data)) errors.push(required('data[.dockerconfigjson]'));
  if (old) {
    if ((old.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) errors.push(invalidValue('type', obj.type, 'field is immutable'));
    if (old.immutable === true) {
      if (!deepEqual(old.data, obj.data)) errors.push(forbiddenField('data', 'field is immutable when `immutable` is set'));
      if (obj.immutable !== true) errors.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
    }
  }
}

export function configMapErrors(obj: Obj, _old: Obj | undefined, errors: FieldError[]): void {
  const data = isObject(obj.data) ? obj.data : {};
  const binary = isObject(obj.binaryData) ? obj.binaryData : {};
  for (const k of Object.keys(data)) for (const e of configKeyErrors(k)) errors.push(invalidValue('data', k, e));
  for (const k of Object.keys(binary)) {
    for (const e of configKeyErrors(k)) errors.push(invalidValue('binaryData', k, e));
    if (k in data) errors.push(invalidValue('data', k, 'duplicate of key present in binaryData'));
  }
}
