/** managedFields entries: who wrote which fields, and how. */
import { deepEqual, type Obj } from './json.js';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

export const sameManager = (e: ManagedFieldsEntry, manager: string, operation: string, subresource?: string) =>
  e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');

/** Two stored versions are the same write if they differ only in managedFields timestamps. */
export function sameObject(a: Obj, b: Obj): boolean {
  const strip = (o: Obj) => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: undefined, managedFields: (o.metadata?.managedFields ?? []).map((m: ManagedFieldsEntry) => ({ ...m, time: undefined })) },
  });
  return deepEqual(JSON.parse(JSON.stringify(strip(a))), JSON.parse(JSON.stringify(strip(b))));
}
