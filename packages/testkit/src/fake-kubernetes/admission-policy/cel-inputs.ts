/** What CEL sees of a request (plugin/cel/activation.go): `object`, `oldObject`, `request` and `namespaceObject`. */
import type { CelInput } from '@bufbuild/cel';

import type { AdmissionRequest } from '../admission-hook.js';
import type { Attributes } from './attributes.js';
import { isObject, metadataOf, type Obj } from './objects.js';

/** cel.CreateAdmissionRequest as JSON: empty optional fields are left out, as its JSON form leaves them. */
function requestValue(a: Attributes): Obj {
  const userInfo: Obj = {};
  if (a.userInfo.username) userInfo.username = a.userInfo.username;
  if (a.userInfo.uid) userInfo.uid = a.userInfo.uid;
  if (a.userInfo.groups.length > 0) userInfo.groups = [...a.userInfo.groups];
  const optionsKind = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions' }[a.operation];
  return {
    uid: '',
    kind: { ...a.kind },
    resource: { ...a.resource },
    ...(a.subResource ? { subResource: a.subResource } : {}),
    requestKind: { ...a.kind },
    requestResource: { ...a.resource },
    ...(a.subResource ? { requestSubResource: a.subResource } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    operation: a.operation,
    userInfo,
    dryRun: a.dryRun,
    options: { apiVersion: 'meta.k8s.io/v1', kind: optionsKind, ...(a.dryRun ? { dryRun: ['All'] } : {}) },
  };
}

/** cel.CreateNamespaceObject: the namespace's metadata (less managedFields and owners), spec and status. */
export function celNamespaceObject(ns: Obj): Obj {
  const meta = metadataOf(ns);
  const kept = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'finalizers'];
  const metadata = Object.fromEntries(kept.filter((k) => meta[k] !== undefined && meta[k] !== null).map((k) => [k, meta[k]]));
  return { metadata, ...(ns.spec !== undefined ? { spec: ns.spec } : {}), ...(ns.status !== undefined ? { status: ns.status } : {}) };
}

export interface Inputs {
  object: CelInput;
  oldObject: CelInput;
  request: CelInput;
  namespaceObject: CelInput;
}

export function inputsOf(request: AdmissionRequest, a: Attributes, namespaceObject: Obj | null): Inputs {
  return {
    object: toCel(request.object),
    oldObject: toCel(request.oldObject),
    request: toCel(requestValue(a)),
    namespaceObject: toCel(namespaceObject),
  };
}

/**
 * JSON as CEL sees a Kubernetes object: whole numbers are int (int64 in every built-in type), maps are maps.
 * Fields set to null are left out: decoding into the API's Go types drops them before admission.
 */
function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (Array.isArray(value)) return value.map(toCel);
  if (isObject(value)) {
    const map = new Map<string, CelInput>();
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) map.set(k, toCel(v));
    return map;
  }
  throw new Error(`cannot give ${typeof value} to CEL`);
}
