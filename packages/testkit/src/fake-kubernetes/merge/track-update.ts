/** Field ownership after a write that is not an apply. */
import { dec, fieldSet, fromFieldsV1, getAt, toFieldsV1 } from './field-set.js';
import { deepEqual, type Obj } from './json.js';
import type { ListTypes } from './list-types.js';
import { sameManager, type ManagedFieldsEntry } from './managed-fields.js';

/**
 * Ownership after a non-apply write (create, update, patch) by `manager`: it takes every field whose value it
 * set or changed; fields that disappeared are nobody's any more.
 */
export function trackUpdate(args: {
  before: Obj | undefined;
  after: Obj;
  managed: ManagedFieldsEntry[];
  manager: string;
  apiVersion: string;
  now: string;
  subresource?: string;
  lists?: ListTypes;
}): ManagedFieldsEntry[] {
  const scope = args.subresource === 'status' ? 'status' : 'main';
  const oldSet = fieldSet(args.before, scope, args.lists);
  const newSet = fieldSet(args.after, scope, args.lists);
  const changed = [...newSet].filter((p) => !oldSet.has(p) || !deepEqual(getAt(args.before, dec(p)), getAt(args.after, dec(p))));
  const gone = [...oldSet].filter((p) => !newSet.has(p));
  const out: ManagedFieldsEntry[] = [];
  let mine: ManagedFieldsEntry | undefined;
  for (const e of args.managed) {
    const set = fromFieldsV1(e.fieldsV1);
    if (sameManager(e, args.manager, 'Update', args.subresource)) {
      for (const p of gone) set.delete(p);
      for (const p of changed) set.add(p);
      mine = { ...e, time: changed.length > 0 ? args.now : e.time, fieldsV1: toFieldsV1(set) };
      if (set.size > 0) out.push(mine);
      continue;
    }
    for (const p of [...changed, ...gone]) set.delete(p);
    if (set.size > 0) out.push({ ...e, fieldsV1: toFieldsV1(set) });
  }
  if (!mine && changed.length > 0) {
    out.push({
      manager: args.manager,
      operation: 'Update',
      apiVersion: args.apiVersion,
      time: args.now,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(new Set(changed)),
      ...(args.subresource ? { subresource: args.subresource } : {}),
    });
  }
  return out;
}
