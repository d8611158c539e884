/** JSON merge patch (RFC 7386) and strategic merge patch (approximated: lists of named objects merge by name). */
/* eslint-disable @typescript-eslint/no-explicit-any -- arbitrary JSON documents */
import { clone, isObject, type Obj } from './json.js';
import { isKeyedList } from './list-types.js';

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
