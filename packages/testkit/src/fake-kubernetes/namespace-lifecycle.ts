/**
 * A namespace's life as the API server and the namespace controller run it: what every new namespace is given,
 * deletion that leaves it Terminating (with the controller's conditions) until its content is gone, finalize as
 * the operator's escape hatch, and the holds a test puts on a terminating namespace (a stuck finalizer).
 */
import { DEF, now } from './cluster-host.js';
import { internalCreate, internalUpdate } from './cluster-writes.js';
import { clone, type Obj } from './merge.js';
import type { ServerState } from './server-state.js';
import { forbidden } from './status.js';
import { admit, type WriteContext } from './write-admission.js';

const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];
const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\ndmVyLWNhQGZha2Uta3ViZXJuZXRlczAeFw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEw\n-----END CERTIFICATE-----\n';
const CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** What the service account and root CA controllers add to every new namespace. */
export function namespaceCreated(state: ServerState, name: string): void {
  internalCreate(state, DEF.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } }, 'kube-controller-manager');
  internalCreate(
    state,
    DEF.configMap,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: name, annotations: { 'kubernetes.io/description': CA_DESCRIPTION } }, data: { 'ca.crt': FAKE_CA } },
    'kube-controller-manager',
  );
}

/** The namespace controller's conditions on a terminating namespace (`stuck`: as a discovery failure holds it). */
function namespaceConditions(state: ServerState, name: string, stuck: boolean): Obj[] {
  const at = now();
  const counts: string[] = [];
  for (const d of state.served.filter((r) => r.namespaced)) {
    const n = state.store.all(d, name).length;
    if (n > 0) counts.push(`${d.resource}.${d.group} has ${n} resource instances`);
  }
  counts.sort();
  const cond = (type: string, status: boolean, reason: string, message: string) => ({ type, status: status ? 'True' : 'False', lastTransitionTime: at, reason, message });
  return [
    stuck
      ? cond('NamespaceDeletionDiscoveryFailure', true, 'DiscoveryFailed', 'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: stale GroupVersion discovery: metrics.k8s.io/v1beta1')
      : cond('NamespaceDeletionDiscoveryFailure', false, 'ResourcesDiscovered', 'All resources successfully discovered'),
    cond('NamespaceDeletionGroupVersionParsingFailure', false, 'ParsedGroupVersions', 'All legacy kube types successfully parsed'),
    cond('NamespaceDeletionContentFailure', false, 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'),
    counts.length > 0
      ? cond('NamespaceContentRemaining', true, 'SomeResourcesRemain', `Some resources are remaining: ${counts.join(', ')}`)
      : cond('NamespaceContentRemaining', false, 'ContentRemoved', 'All content successfully removed'),
    cond('NamespaceFinalizersRemaining', false, 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'),
  ];
}

function purgeNamespace(state: ServerState, name: string): void {
  const ns = state.store.get(DEF.namespace, undefined, name);
  if (ns) {
    // Bypasses the terminating check: what the namespace controller deletes is not new content.
    ns.status = { ...(ns.status ?? {}), phase: 'Terminating' };
  }
  for (const d of state.served.filter((r) => r.namespaced)) for (const obj of state.store.all(d, name)) state.store.unstore(d, name, obj.metadata.name);
}

function finishNamespace(state: ServerState, name: string): void {
  const ns = state.store.get(DEF.namespace, undefined, name);
  if (!ns || ns.metadata.deletionTimestamp === undefined) return;
  purgeNamespace(state, name);
  if (state.held.has(name)) {
    state.emptied.add(name);
    internalUpdate(state, DEF.namespace, { ...ns, status: { phase: 'Terminating', conditions: namespaceConditions(state, name, true) } }, 'kube-controller-manager', 'status');
    return;
  }
  state.emptied.delete(name);
  state.store.unstore(DEF.namespace, undefined, name);
}

export function deleteNamespace(state: ServerState, existing: Obj, ctx: WriteContext): Obj {
  const name = existing.metadata.name as string;
  if (PROTECTED_NAMESPACES.includes(name)) throw forbidden(DEF.namespace, name, 'this namespace may not be deleted');
  admit(state, DEF.namespace, 'DELETE', undefined, existing, ctx);
  if (existing.metadata.deletionTimestamp !== undefined || ctx.dryRun) return clone(existing);
  const next = clone(existing);
  next.metadata.deletionTimestamp = now();
  next.metadata.deletionGracePeriodSeconds = 0;
  next.status = { phase: 'Terminating', conditions: namespaceConditions(state, name, false) };
  state.store.persist(DEF.namespace, next, 'MODIFIED');
  state.timers.schedule(state.terminatingMs, () => finishNamespace(state, name));
  return clone(next);
}

/** The namespace and its content go at once, whatever holds it. */
export function removeNamespaceNow(state: ServerState, name: string): void {
  state.held.delete(name);
  state.emptied.delete(name);
  purgeNamespace(state, name);
  state.store.unstore(DEF.namespace, undefined, name);
}

/** PUT namespaces/{name}/finalize: emptying spec.finalizers lets a terminating namespace go (the operator's escape hatch). */
export function finalizeNamespace(state: ServerState, existing: Obj, body: Obj, ctx: WriteContext): Obj {
  const next = clone(existing);
  next.spec = { ...(next.spec ?? {}), finalizers: body.spec?.finalizers ?? [] };
  admit(state, DEF.namespace, 'UPDATE', next, existing, ctx, 'finalize');
  if (next.spec.finalizers.length === 0 && next.metadata.deletionTimestamp !== undefined) {
    removeNamespaceNow(state, existing.metadata.name as string);
    return next;
  }
  return clone(state.store.persist(DEF.namespace, next, 'MODIFIED'));
}

/** Keeps namespace `name` Terminating until released (a stuck finalizer). */
export function holdTerminating(state: ServerState, name: string): { release(): void } {
  state.held.add(name);
  return {
    release() {
      state.held.delete(name);
      if (state.emptied.has(name)) state.timers.schedule(0, () => finishNamespace(state, name));
    },
  };
}
