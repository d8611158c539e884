/**
 * The API server's storage: every served kind's objects by namespace and name, the resourceVersion counter each
 * write advances, and the change feed watches read.
 */
import type { Obj } from './merge.js';
import type { ResourceDef } from './resources.js';
import type { ChangeType, WatchHub } from './watches.js';

export class ObjectStore {
  private readonly objects: Map<ResourceDef, Map<string, Obj>>;
  /** The last resourceVersion handed out. */
  resourceVersion = 1000;

  /** `changed`: told after each stored change, for what reacts to any write of a kind (quotas, informers). */
  constructor(
    served: ResourceDef[],
    private readonly watches: WatchHub,
    private readonly changed: (d: ResourceDef, namespace: string | undefined) => void,
  ) {
    this.objects = new Map(served.map((d) => [d, new Map()]));
  }

  /** The storage key, in the order lists and continue tokens follow: namespace, then name. */
  keyOf(d: ResourceDef, ns: string | undefined, name: string): string {
    return `${d.namespaced ? (ns ?? '') : ''}/${name}`;
  }

  /** The stored object itself (not a copy). */
  get(d: ResourceDef, ns: string | undefined, name: string): Obj | undefined {
    return this.objects.get(d)!.get(this.keyOf(d, ns, name));
  }

  /** The stored objects of a kind (in one namespace, or all), in key order; not copies. */
  all(d: ResourceDef, ns?: string): Obj[] {
    return [...this.objects.get(d)!.entries()]
      .filter(([k]) => ns === undefined || k.startsWith(`${ns}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v);
  }

  persist(d: ResourceDef, obj: Obj, type: Exclude<ChangeType, 'DELETED'>): Obj {
    obj.metadata.resourceVersion = String(++this.resourceVersion);
    this.objects.get(d)!.set(this.keyOf(d, obj.metadata.namespace, obj.metadata.name), obj);
    this.watches.notify(d, type, obj);
    this.changed(d, obj.metadata.namespace);
    return obj;
  }

  unstore(d: ResourceDef, ns: string | undefined, name: string): Obj | undefined {
    const obj = this.get(d, ns, name);
    if (!obj) return undefined;
    this.objects.get(d)!.delete(this.keyOf(d, ns, name));
    obj.metadata.resourceVersion = String(++this.resourceVersion);
    this.watches.notify(d, 'DELETED', obj);
    this.changed(d, ns);
    return obj;
  }
}
