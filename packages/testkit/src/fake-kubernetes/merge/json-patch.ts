/** JSON patch (RFC 6902), with the API server's error messages. */
/* eslint-disable @typescript-eslint/no-explicit-any -- arbitrary JSON documents */
import { clone, deepEqual, isObject } from './json.js';

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
