/**
 * The write algebra of the API server: JSON merge patch (RFC 7386), strategic merge patch (approximated: lists of
 * named objects merge by name), JSON patch (RFC 6902), and server-side apply's field ownership, tracked in
 * managedFields as FieldsV1 sets. A custom resource's lists follow its schema instead (ListTypes).
 */

/* eslint-disable @typescript-eslint/no-explicit-any -- arbitrary JSON documents */
export type Obj = Record<string, any>;

export const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Null in a written object means "not set", as Go's decoding into pointers and omitempty makes it. */
export function stripNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.filter((x) => x !== null).map(stripNulls) as T;
  if (isObject(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = stripNulls(x);
    return out as T;
  }
  return v;
}

/**
 * Which lists merge item by item (keyed by `name`), given the path of the list field, `[]` standing for an item:
 * `spec.listeners`, `spec.rules[].backendRefs`. A CRD's schema says it: lists of x-kubernetes-list-type map do, every
 * other list is atomic (an apply replaces it whole, and one manager owns it whole). Without one (the built-in kinds)
 * every list of distinctly named objects does, which their strategic-merge keys mostly are.
 */
export type ListTypes = (path: string) => boolean;

/** A list whose items are objects with distinct `name`s: containers, env, volumes, ports... merged item by item. */
function isKeyedList(v: unknown): v is Obj[] {
  if (!Array.isArray(v) || v.length === 0) return false;
  const names = new Set<string>();
  for (const item of v) {
    if (!isObject(item) || typeof item.name !== 'string' || names.has(item.name)) return false;
    names.add(item.name);
  }
  return true;
}

/** Metadata's lists (ownerReferences, finalizers) are the same for every kind, custom or not. */
const keyedAt = (v: unknown, path: string, lists: ListTypes | undefined): v is Obj[] => isKeyedList(v) && (!lists || path.startsWith('metadata.') || lists(path));

const childPath = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function mergePatch(target: unknown, patch: unknown): any {
  if (!isObject(patch)) return clone(patch);
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

export function strategicMergePatch(target: unknown, patch: unknown): any {
  if (Array.isArray(patch) && Array.isArray(target) && (target.length === 0 || isKeyedList(target)) && patch.every((p) => isObject(p) && typeof p.name === 'string')) {
    const result: Obj[] = target.map((t) => clone(t));
    for (const item of patch as Obj[]) {
      const at = result.findIndex((t) => t.name === item.name);
      if (item.$patch === 'delete') {
        if (at >= 0) result.splice(at, 1);
      } else if (at >= 0) result[at] = strategicMergePatch(result[at], item);
      else result.push(strategicMergePatch(undefined, item));
    }
    return result;
  }
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return clone(rest);
  }
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // directives ($setElementOrder, $retainKeys...) only order or prune; dropped
    if (v === null) delete result[k];
    else result[k] = strategicMergePatch(result[k], v);
  }
  return result;
}

export class JsonPatchError extends Error {}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`JSON pointer must start with "/": ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function locate(doc: any, tokens: string[], op: string, path: string): { parent: any; key: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    const next = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined) throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
    cur = next;
  }
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

/** RFC 6902 against a copy of `doc`. */
export function jsonPatch(doc: unknown, ops: unknown): any {
  if (!Array.isArray(ops)) throw new JsonPatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let root: any = clone(doc);
  const get = (path: string) => {
    let cur: any = root;
    for (const t of parsePointer(path)) {
      cur = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
      if (cur === undefined) throw new JsonPatchError(`doc is missing path: ${JSON.stringify(path)}`);
    }
    return cur;
  };
  const remove = (path: string, op: string) => {
    const tokens = parsePointer(path);
    const { parent, key } = locate(root, tokens, op, path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!(i >= 0 && i < parent.length)) throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
      return parent.splice(i, 1)[0];
    }
    if (!isObject(parent) || !(key in parent)) throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
    const old = parent[key];
    delete parent[key];
    return old;
  };
  const add = (path: string, value: unknown, op: string) => {
    const tokens = parsePointer(path);
    if (tokens.length === 0) {
      root = clone(value);
      return;
    }
    const { parent, key } = locate(root, tokens, op, path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!(i >= 0 && i <= parent.length)) throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
      parent.splice(i, 0, clone(value));
    } else if (isObject(parent)) parent[key] = clone(value);
    else throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  };
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new JsonPatchError('Unexpected kind: operation must have "op" and "path"');
    const { op, path } = raw;
    switch (op) {
      case 'add':
        add(path, raw.value, op);
        break;
      case 'remove':
        remove(path, op);
        break;
      case 'replace': {
        const tokens = parsePointer(path);
        if (tokens.length === 0) {
          root = clone(raw.value);
          break;
        }
        const { parent, key } = locate(root, tokens, op, path);
        const present = Array.isArray(parent) ? Number(key) >= 0 && Number(key) < parent.length : isObject(parent) && key in parent;
        if (!present) throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
        if (Array.isArray(parent)) parent[Number(key)] = clone(raw.value);
        else parent[key] = clone(raw.value);
        break;
      }
      case 'move': {
        const value = remove(String(raw.from), op);
        add(path, value, op);
        break;
      }
      case 'copy':
        add(path, get(String(raw.from)), op);
        break;
      case 'test':
        if (!deepEqual(get(path), raw.value)) throw new JsonPatchError(`testing value ${path} failed: test failed`);
        break;
      default:
        throw new JsonPatchError(`Unexpected kind: ${op}`);
    }
  }
  return root;
}

// ---- field ownership -------------------------------------------------------------------------------------------

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

/** A path into an object, FieldsV1 style: `f:spec`, `k:{"name":"web"}`, and `.` for "this list item itself". */
type FieldPath = string[];
const enc = (p: FieldPath) => JSON.stringify(p);
const dec = (s: string) => JSON.parse(s) as FieldPath;

/** `spec.listeners[].allowedRoutes`: a field path as ListTypes names lists. */
function schemaPath(path: FieldPath): string {
  let out = '';
  for (const el of path) {
    if (el.startsWith('f:')) out = childPath(out, el.slice(2));
    else if (el.startsWith('k:')) out += '[]';
  }
  return out;
}

function collect(value: unknown, prefix: FieldPath, out: Set<string>, lists: ListTypes | undefined): void {
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      if (prefix.length > 0) out.add(enc(prefix));
      return;
    }
    for (const k of keys) collect(value[k], [...prefix, `f:${k}`], out, lists);
  } else if (keyedAt(value, schemaPath(prefix), lists)) {
    for (const item of value) {
      const itemPath = [...prefix, `k:${JSON.stringify({ name: item.name })}`];
      out.add(enc([...itemPath, '.']));
      for (const k of Object.keys(item)) collect(item[k], [...itemPath, `f:${k}`], out, lists);
    }
  } else {
    out.add(enc(prefix));
  }
}

/** The fields an object sets, as ownership is tracked: main resource (spec, data, labels...) or its status. */
function fieldSet(obj: Obj | undefined, scope: 'main' | 'status', lists: ListTypes | undefined): Set<string> {
  const out = new Set<string>();
  if (!obj) return out;
  if (scope === 'status') {
    if (obj.status !== undefined) collect(obj.status, ['f:status'], out, lists);
    return out;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata') {
      for (const mk of ['labels', 'annotations', 'ownerReferences', 'finalizers']) {
        if (isObject(v) && v[mk] !== undefined) collect(v[mk], ['f:metadata', `f:${mk}`], out, lists);
      }
      continue;
    }
    collect(v, [`f:${k}`], out, lists);
  }
  return out;
}

function toFieldsV1(set: Set<string>): Obj {
  const root: Obj = {};
  for (const s of [...set].sort()) {
    let node = root;
    for (const el of dec(s)) node = node[el] ??= {};
  }
  return root;
}

function fromFieldsV1(tree: Obj | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: Obj, prefix: FieldPath) => {
    const keys = Object.keys(node);
    if (keys.length === 0 && prefix.length > 0) out.add(enc(prefix));
    for (const k of keys) walk(isObject(node[k]) ? node[k] : {}, [...prefix, k]);
  };
  if (isObject(tree)) walk(tree, []);
  return out;
}

function getAt(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const el of path) {
    if (el === '.') continue;
    if (el.startsWith('f:')) cur = isObject(cur) ? cur[el.slice(2)] : undefined;
    else {
      const { name } = JSON.parse(el.slice(2)) as { name: string };
      cur = Array.isArray(cur) ? cur.find((i) => isObject(i) && i.name === name) : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

function deleteAt(obj: Obj, path: FieldPath): void {
  const target = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
  const parent = getAt(obj, target.slice(0, -1));
  const last = target[target.length - 1]!;
  if (last.startsWith('f:')) {
    if (isObject(parent)) delete parent[last.slice(2)];
  } else if (Array.isArray(parent)) {
    const { name } = JSON.parse(last.slice(2)) as { name: string };
    const i = parent.findIndex((x) => isObject(x) && x.name === name);
    if (i >= 0) parent.splice(i, 1);
  }
}

/** `.spec.template.spec.containers[name="web"].image`, as apply conflicts name fields. */
function renderPath(path: FieldPath): string {
  return path
    .filter((el) => el !== '.')
    .map((el) => (el.startsWith('f:') ? `.${el.slice(2)}` : `[name=${JSON.stringify((JSON.parse(el.slice(2)) as { name: string }).name)}]`))
    .join('');
}

const sameManager = (e: ManagedFieldsEntry, manager: string, operation: string, subresource?: string) =>
  e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');

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

/** Everything but server-owned metadata and status: what apply merges onto. */
export function mainContent(obj: Obj): Obj {
  const { status: _status, metadata, ...rest } = clone(obj);
  const meta: Obj = {};
  for (const k of ['name', 'namespace', 'labels', 'annotations', 'ownerReferences', 'finalizers']) if (metadata?.[k] !== undefined) meta[k] = metadata[k];
  return { ...rest, metadata: meta };
}

/** Two stored versions are the same write if they differ only in managedFields timestamps. */
export function sameObject(a: Obj, b: Obj): boolean {
  const strip = (o: Obj) => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: undefined, managedFields: (o.metadata?.managedFields ?? []).map((m: ManagedFieldsEntry) => ({ ...m, time: undefined })) },
  });
  return deepEqual(JSON.parse(JSON.stringify(strip(a))), JSON.parse(JSON.stringify(strip(b))));
}
