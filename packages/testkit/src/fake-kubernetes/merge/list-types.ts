/** Which lists merge item by item: the choice merge patches, field ownership and apply all make the same way. */
import { isObject, type Obj } from './json.js';

/**
 * Which lists merge item by item (keyed by `name`), given the path of the list field, `[]` standing for an item:
 * `spec.listeners`, `spec.rules[].backendRefs`. A CRD's schema says it: lists of x-kubernetes-list-type map do, every
 * other list is atomic (an apply replaces it whole, and one manager owns it whole). Without one (the built-in kinds)
 * every list of distinctly named objects does, which their strategic-merge keys mostly are.
 */
export type ListTypes = (path: string) => boolean;

/** A list whose items are objects with distinct `name`s: containers, env, volumes, ports... merged item by item. */
export function isKeyedList(v: unknown): v is Obj[] {
  if (!Array.isArray(v) || v.length === 0) return false;
  const names = new Set<string>();
  for (const item of v) {
    if (!isObject(item) || typeof item.name !== 'string' || names.has(item.name)) return false;
    names.add(item.name);
  }
  return true;
}

/** Metadata's lists (ownerReferences, finalizers) are the same for every kind, custom or not. */
export const keyedAt = (v: unknown, path: string, lists: ListTypes | undefined): v is Obj[] => isKeyedList(v) && (!lists || path.startsWith('metadata.') || lists(path));

export const childPath = (path: string, key: string) => (path ? `${path}.${key}` : key);
