/**
 * What the cluster's own components (controllers, scheduler, kubelet, the quota controller) read and write: the
 * store through no validation or admission, with the writer's managedFields recorded, as their API clients' writes
 * meet a real API server.
 */
import { randomUUID } from 'node:crypto';
import { quotaUsed, type AdmissionView } from './admission.js';
import { DEF, now, type ClusterHost } from './cluster-host.js';
import { clone, deepEqual, sameObject, trackUpdate, type Obj } from './merge.js';
import { apiVersionOf, findKind, listTypes, type ResourceDef } from './resources.js';
import type { ServerState } from './server-state.js';

const LIMIT_RANGE = findKind('v1', 'LimitRange')!;

/** A stored change of kind `d` in namespace `ns`: quotas recount (events are not counted), informers hear of it. */
export function storeChanged(state: ServerState, d: ResourceDef, ns: string | undefined): void {
  if (d.namespaced && d !== DEF.event) refreshQuotas(state, ns);
  state.controller.observed(d);
}

/** What admission reads of a namespace's objects. */
export function admissionViewOf(state: ServerState): AdmissionView {
  const all = (d: ResourceDef, ns: string) => state.store.all(d, ns);
  return {
    limitRanges: (ns) => all(LIMIT_RANGE, ns),
    quotas: (ns) => all(DEF.resourceQuota, ns),
    pods: (ns) => all(DEF.pod, ns),
    claims: (ns) => all(DEF.pvc, ns),
    count: (ns, resource) => {
      const [plural, ...group] = resource.split('.');
      const d = state.served.find((r) => r.resource === plural && r.group === group.join('.'));
      return d ? all(d, ns).length : 0;
    },
  };
}

/** The quota controller's half: status.hard and status.used kept current. */
export function refreshQuotas(state: ServerState, ns: string | undefined): void {
  if (!ns) return;
  for (const quota of state.store.all(DEF.resourceQuota, ns)) {
    const status = { hard: { ...(quota.spec?.hard ?? {}) }, used: quotaUsed(quota, ns, state.admission) };
    if (!deepEqual(quota.status, status)) internalUpdate(state, DEF.resourceQuota, { ...quota, status }, 'kube-controller-manager', 'status');
  }
}

/** Objects written by the cluster's own components: no validation, ownership recorded. */
export function internalCreate(state: ServerState, d: ResourceDef, input: Obj, manager: string): Obj {
  const obj = clone(input);
  obj.metadata.uid = randomUUID();
  obj.metadata.creationTimestamp = now();
  if (d.generation) obj.metadata.generation = 1;
  obj.metadata.managedFields = trackUpdate({ before: undefined, after: obj, managed: [], manager, apiVersion: apiVersionOf(d), now: now(), lists: listTypes(d) });
  if (obj.status !== undefined && d.statusSubresource) {
    obj.metadata.managedFields = trackUpdate({ before: undefined, after: obj, managed: obj.metadata.managedFields, manager, apiVersion: apiVersionOf(d), now: now(), subresource: 'status', lists: listTypes(d) });
  }
  return clone(state.store.persist(d, obj, 'ADDED'));
}

export function internalUpdate(state: ServerState, d: ResourceDef, input: Obj, manager: string, sub?: 'status'): Obj {
  const existing = state.store.get(d, input.metadata?.namespace, input.metadata?.name);
  if (!existing) return clone(input);
  let next: Obj;
  if (sub === 'status') next = { ...clone(existing), status: clone(input.status) };
  else {
    next = clone(input);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'generation']) if (existing.metadata[k] !== undefined) next.metadata[k] = existing.metadata[k];
    if (d.statusSubresource) next.status = clone(existing.status);
    if (d.generation && !deepEqual(existing.spec, next.spec)) next.metadata.generation = (existing.metadata.generation ?? 1) + 1;
  }
  next.metadata.managedFields = trackUpdate({
    before: existing,
    after: next,
    managed: existing.metadata.managedFields ?? [],
    manager,
    apiVersion: apiVersionOf(d),
    now: now(),
    ...(sub ? { subresource: sub } : {}),
    lists: listTypes(d),
  });
  next.metadata.resourceVersion = existing.metadata.resourceVersion;
  if (sameObject(existing, next)) return clone(existing);
  return clone(state.store.persist(d, next, 'MODIFIED'));
}

/** The control plane's view of the server. */
export function clusterHost(state: ServerState): ClusterHost {
  return {
    get: (d, ns, name) => {
      const o = state.store.get(d, ns, name);
      return o && clone(o);
    },
    list: (d, ns) => state.store.all(d, ns).map((o) => clone(o)),
    create: (d, obj, manager) => internalCreate(state, d, obj, manager),
    update: (d, obj, manager, sub) => internalUpdate(state, d, obj, manager, sub),
    remove: (d, ns, name) => void state.store.unstore(d, ns, name),
    namespace: (name) => state.store.get(DEF.namespace, undefined, name),
    admission: state.admission,
    schedule: (ms, fn) => state.timers.schedule(ms, fn),
  };
}
