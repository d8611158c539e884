/**
 * Creating, updating and deleting an object through the API: the API server's registry strategy (what the client
 * may not set, generation, status kept apart from the main resource), defaulting, validation, admission, the
 * no-op detection, and the control plane told of what changed.
 */
import { randomUUID } from 'node:crypto';
import { admissionPolicyDefaults } from './admission-hook.js';
import { DEF, now } from './cluster-host.js';
import { refreshQuotas } from './cluster-writes.js';
import { applyDefaults, initialStatus } from './defaults.js';
import { gatewayApiDefaults, gatewayApiInitialStatus } from './gateway-api-schema.js';
import { clone, deepEqual, sameObject, trackUpdate, type ManagedFieldsEntry, type Obj } from './merge.js';
import { randomSuffix } from './names.js';
import { namespaceCreated } from './namespace-lifecycle.js';
import { podSecurityMessage } from './admission.js';
import { rbacDefaults } from './rbac.js';
import { apiVersionOf, listTypes, type ResourceDef } from './resources.js';
import type { ServerState } from './server-state.js';
import { alreadyExists } from './status.js';
import { checkBase64Data, validateObject } from './validation.js';
import { admit, admitCreate, refuseEscalation, type WriteContext } from './write-admission.js';


/** What the API server defaults on every write, the RBAC and admission policy kinds' included. */
function defaults(state: ServerState, d: ResourceDef, obj: Obj, old: Obj | undefined): void {
  applyDefaults(d, obj, old, state.allocator);
  rbacDefaults(d.kind, obj);
  admissionPolicyDefaults(d.kind, obj);
  if (d.crd) gatewayApiDefaults(d.kind, obj);
}

export function createObject(state: ServerState, d: ResourceDef, obj: Obj, ctx: WriteContext, managed?: ManagedFieldsEntry[], keepStatus = false): Obj {
  const meta = obj.metadata;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink']) delete meta[k];
  if (!meta.name && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomSuffix()}`;
  if (!keepStatus && d.statusSubresource) {
    const status = initialStatus(d, obj) ?? gatewayApiInitialStatus(d.kind);
    if (status === undefined) delete obj.status;
    else obj.status = status;
  }
  checkBase64Data(d, obj);
  defaults(state, d, obj, undefined);
  if (d === DEF.pvc) state.controller.admitClaim(obj);
  refuseEscalation(state, d, obj, undefined, ctx);
  validateObject(d, obj, undefined, state.schemas);
  admitCreate(state, d, obj, ctx);
  // A new pod's QoS class follows what LimitRanger gave its containers.
  if (!keepStatus && d === DEF.pod) obj.status = initialStatus(d, obj);
  // A Job's uid is already its generated selector's.
  meta.uid ??= randomUUID();
  meta.creationTimestamp = now();
  if (d.generation) meta.generation = 1;
  meta.managedFields = managed ?? trackUpdate({ before: undefined, after: obj, managed: [], manager: ctx.manager, apiVersion: apiVersionOf(d), now: now(), lists: listTypes(d) });
  admit(state, d, 'CREATE', obj, undefined, ctx);
  const existing = state.store.get(d, meta.namespace, meta.name);
  if (existing) throw alreadyExists(d, meta.name, existing.metadata.deletionTimestamp !== undefined);
  if (ctx.dryRun) return obj;
  state.store.persist(d, obj, 'ADDED');
  if (d === DEF.namespace) namespaceCreated(state, meta.name);
  if (d === DEF.deployment) state.controller.deploymentChanged(obj);
  if (d === DEF.resourceQuota) refreshQuotas(state, meta.namespace);
  state.controller.changed(d, obj);
  return clone(state.store.get(d, meta.namespace, meta.name)!);
}

/** The candidate as the registry takes it: identity and status from the stored object, generation bumped on a spec change. */
function nextVersion(state: ServerState, d: ResourceDef, existing: Obj, candidate: Obj, ctx: WriteContext, sub: string | undefined): Obj {
  const next = sub === 'status' ? { ...clone(existing), status: clone(candidate.status) } : candidate;
  next.apiVersion = apiVersionOf(d);
  next.kind = d.kind;
  next.metadata = { ...(next.metadata ?? {}), name: existing.metadata.name };
  if (d.namespaced) next.metadata.namespace = existing.metadata.namespace;
  for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generateName']) {
    if (existing.metadata[k] !== undefined) next.metadata[k] = existing.metadata[k];
    else delete next.metadata[k];
  }
  delete next.metadata.selfLink;
  if (!sub && d.statusSubresource) {
    if (existing.status === undefined) delete next.status;
    else next.status = clone(existing.status);
  }
  if (!sub) {
    checkBase64Data(d, next);
    defaults(state, d, next, existing);
    refuseEscalation(state, d, next, existing, ctx);
  }
  validateObject(d, next, existing, state.schemas);
  if (d.generation) {
    const specChanged = !sub && !deepEqual(existing.spec, next.spec);
    next.metadata.generation = (existing.metadata.generation ?? 1) + (specChanged ? 1 : 0);
  } else delete next.metadata.generation;
  if (!sub && (d === DEF.deployment || d === DEF.replicaSet)) {
    const warning = podSecurityMessage(next.spec?.template?.spec, state.store.get(DEF.namespace, undefined, next.metadata.namespace), 'would violate');
    if (warning) ctx.warnings.push(warning);
  }
  return next;
}

export function updateObject(state: ServerState, d: ResourceDef, existing: Obj, candidate: Obj, ctx: WriteContext, opts: { sub?: string; managed?: ManagedFieldsEntry[] } = {}): Obj {
  const next = nextVersion(state, d, existing, candidate, ctx, opts.sub);
  next.metadata.managedFields =
    opts.managed ??
    trackUpdate({
      before: existing,
      after: next,
      managed: existing.metadata.managedFields ?? [],
      manager: ctx.manager,
      apiVersion: apiVersionOf(d),
      now: now(),
      ...(opts.sub ? { subresource: opts.sub } : {}),
      lists: listTypes(d),
    });
  next.metadata.resourceVersion = existing.metadata.resourceVersion;
  admit(state, d, 'UPDATE', next, existing, ctx, opts.sub);
  // A write that changes nothing leaves resourceVersion alone, as the API server's no-op detection does.
  const unchanged = sameObject(existing, next);
  if (unchanged || ctx.dryRun) return clone(unchanged ? existing : next);
  const generationChanged = next.metadata.generation !== existing.metadata.generation;
  state.store.persist(d, next, 'MODIFIED');
  if (d === DEF.deployment && generationChanged) state.controller.deploymentChanged(next);
  if (generationChanged || d === DEF.pvc) state.controller.changed(d, next);
  if (d === DEF.resourceQuota) refreshQuotas(state, next.metadata.namespace);
  return clone(state.store.get(d, next.metadata.namespace, next.metadata.name)!);
}

/** Removes an object: the garbage collector and the owners' controllers hear of it first. */
export function deleteOne(state: ServerState, d: ResourceDef, obj: Obj): Obj {
  state.controller.deleted(d, obj);
  return clone(state.store.unstore(d, obj.metadata.namespace, obj.metadata.name) ?? obj);
}
