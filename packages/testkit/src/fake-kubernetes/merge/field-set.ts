/** The fields an object sets, as FieldsV1 sets: what server-side apply tracks ownership of in managedFields. */
import { isObject, type Obj } from './json.js';
import { childPath, keyedAt, type ListTypes } from './list-types.js';

/** A path into an object, FieldsV1 style: `f:spec`, `k:{"name":"web"}`, and `.` for "this list item itself". */
export type FieldPath = string[];
export const enc = (p: FieldPath) => JSON.stringify(p);
export const dec = (s: string) => JSON.parse(s) as FieldPath;

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
export function fieldSet(obj: Obj | undefined, scope: 'main' | 'status', lists: ListTypes | undefined): Set<string> {
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

export function toFieldsV1(set: Set<string>): Obj {
  const root: Obj = {};
  for (const s of [...set].sort()) {
    let node = root;
    for (const el of dec(s)) node = node[el] ??= {};
  }
  return root;
}

export function fromFieldsV1(tree: Obj | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: Obj, prefix: FieldPath) => {
    const keys = Object.keys(node);
    if (keys.length === 0 && prefix.length > 0) out.add(enc(prefix));
    for (const k of keys) walk(isObject(node[k]) ? node[k] : {}, [...prefix, k]);
  };
  if (isObject(tree)) walk(tree, []);
  return out;
}

export function getAt(obj: unknown, path: FieldPath): unknown {
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

export function deleteAt(obj: Obj, path: FieldPath): void {
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
export function renderPath(path: FieldPath): string {
  return path
    .filter((el) => el !== '.')
    .map((el) => (el.startsWith('f:') ? `.${el.slice(2)}` : `[name=${JSON.stringify((JSON.parse(el.slice(2)) as { name: string }).name)}]`))
    .join('');
}
