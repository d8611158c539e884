/** Server-side apply: field ownership, conflicts, and the merge of an applied configuration. */
/* eslint-disable @typescript-eslint/no-explicit-any -- arbitrary JSON documents */
import { dec, deleteAt, enc, fieldSet, fromFieldsV1, getAt, renderPath, toFieldsV1 } from './field-set.js';
import { clone, deepEqual, isObject, type Obj } from './json.js';
import { childPath, isKeyedList, keyedAt, type ListTypes } from './list-types.js';
import { sameManager, type ManagedFieldsEntry } from './managed-fields.js';

export interface ApplyConflict {
  manager: string;
  apiVersion: string;
  field: string;
}

export class ApplyConflictError extends Error {
  constructor(readonly conflicts: ApplyConflict[]) {
    super('apply conflict');
  }
}

/**
 * Server-side apply of `config` by `manager` onto `existing` (its main-resource content): fields the manager
 * applied before and no longer applies are removed unless someone else owns them; fields another manager owns
 * with a different value are conflicts, unless `force` takes them over.
 */
export function applyConfiguration(args: {
  existing: Obj | undefined;
  config: Obj;
  managed: ManagedFieldsEntry[];
  manager: string;
  apiVersion: string;
  force: boolean;
  now: string;
  lists?: ListTypes;
}): { result: Obj; managed: ManagedFieldsEntry[] } {
  const { existing, config, manager, apiVersion, force, now, lists } = args;
  const newSet = fieldSet(config, 'main', lists);
  const entries = args.managed.map((e) => ({ entry: e, set: fromFieldsV1(e.fieldsV1) }));
  const mine = entries.find((e) => sameManager(e.entry, manager, 'Apply'));
  const others = entries.filter((e) => e !== mine && !e.entry.subresource);

  const conflicts: ApplyConflict[] = [];
  for (const p of newSet) {
    const path = dec(p);
    if (path[path.length - 1] === '.') continue;
    for (const o of others) {
      if (!o.set.has(p) || o.entry.manager === manager) continue;
      if (deepEqual(getAt(existing, path), getAt(config, path))) continue;
      if (force) o.set.delete(p);
      else conflicts.push({ manager: o.entry.manager, apiVersion: o.entry.apiVersion, field: renderPath(path) });
    }
  }
  if (conflicts.length > 0) throw new ApplyConflictError(conflicts);

  const base: Obj = clone(existing) ?? {};
  const ownedByOthers = (p: string) => {
    const path = dec(p);
    const item = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
    const prefix = enc(item).slice(0, -1);
    return others.some((o) => [...o.set].some((q) => q === p || q.startsWith(`${prefix},`)));
  };
  const removed = [...(mine?.set ?? [])].filter((p) => !newSet.has(p)).sort((a, b) => dec(b).length - dec(a).length);
  for (const p of removed) {
    if (ownedByOthers(p)) continue;
    deleteAt(base, dec(p));
    // A map emptied by the removal goes too, unless it is a top-level field or someone owns it as a value.
    let parent = dec(p).filter((el) => el !== '.').slice(0, -1);
    while (parent.length > 1) {
      const v = getAt(base, parent);
      if (!(isObject(v) && Object.keys(v).length === 0) || ownedByOthers(enc(parent)) || newSet.has(enc(parent))) break;
      deleteAt(base, parent);
      parent = parent.slice(0, -1);
    }
  }

  const result = mergeApplied(base, config, lists, '');
  const managed: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (e === mine) continue;
    if (e.set.size === 0) continue;
    managed.push({ ...e.entry, fieldsV1: toFieldsV1(e.set) });
  }
  const applyEntry: ManagedFieldsEntry = { manager, operation: 'Apply', apiVersion, time: now, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(newSet) };
  const at = args.managed.findIndex((e) => sameManager(e, manager, 'Apply'));
  if (at >= 0) managed.splice(Math.min(at, managed.length), 0, applyEntry);
  else managed.push(applyEntry);
  return { result, managed };
}

function mergeApplied(base: unknown, cfg: unknown, lists: ListTypes | undefined, path: string): any {
  if (isObject(cfg)) {
    const out: Obj = isObject(base) ? { ...base } : {};
    for (const [k, v] of Object.entries(cfg)) out[k] = mergeApplied(out[k], v, lists, childPath(path, k));
    return out;
  }
  if (keyedAt(cfg, path, lists) && Array.isArray(base) && (base.length === 0 || isKeyedList(base))) {
    const byName = new Map((base as Obj[]).map((i) => [i.name as string, i]));
    const out = cfg.map((item) => mergeApplied(byName.get(item.name), item, lists, `${path}[]`));
    for (const item of base as Obj[]) if (!cfg.some((c) => c.name === item.name)) out.push(item);
    return out;
  }
  return clone(cfg);
}

/** Everything but server-owned metadata and status: what apply merges onto. */
export function mainContent(obj: Obj): Obj {
  const { status: _status, metadata, ...rest } = clone(obj);
  const meta: Obj = {};
  for (const k of ['name', 'namespace', 'labels', 'annotations', 'ownerReferences', 'finalizers']) if (metadata?.[k] !== undefined) meta[k] = metadata[k];
  return { ...rest, metadata: meta };
}
