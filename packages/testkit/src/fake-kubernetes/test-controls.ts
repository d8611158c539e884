/**
 * The handle's methods a test drives the fake with: reading and seeding stored objects directly, and scripting
 * what the cluster does next (rollouts, the Gateway controller, failures, refusals, stuck namespaces, expired
 * watches).
 */
import type { FakeKubernetes } from '../fake-kubernetes.js';
import { internalUpdate } from './cluster-writes.js';
import { clone, isObject, stripNulls, type Obj } from './merge.js';
import { holdTerminating, removeNamespaceNow } from './namespace-lifecycle.js';
import { createObject, updateObject } from './object-writes.js';
import { checkIdentity, type Route } from './requests.js';
import { findKind, type ResourceDef } from './resources.js';
import { parseLabelSelector } from './selectors.js';
import type { ServerState } from './server-state.js';
import { requireNamespace } from './write-admission.js';

/** A served kind, or a test's mistake. */
function kindOf(state: ServerState, apiVersion: string, kind: string): ResourceDef {
  const d = findKind(apiVersion, kind, state.served);
  if (!d) throw new Error(`fake-kubernetes serves no ${apiVersion} ${kind}`);
  return d;
}

/** Stores an object as if someone else created it (validated the same way); an existing one is replaced, a given status kept. */
function seed(state: ServerState, input: object): Obj {
  const obj = stripNulls(clone(input)) as Obj;
  const d = kindOf(state, String(obj.apiVersion), String(obj.kind));
  obj.metadata = isObject(obj.metadata) ? obj.metadata : {};
  const ns = d.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
  const route: Route = { group: d.group, version: d.version, resource: d.resource, inNamespacePath: d.namespaced, ...(ns ? { namespace: ns } : {}) };
  checkIdentity(d, obj, route);
  const status = obj.status;
  const existing = state.store.get(d, ns, obj.metadata.name ?? '');
  let result: Obj;
  if (existing) result = updateObject(state, d, existing, obj, { manager: 'kubectl-edit', dryRun: false, warnings: [] });
  else {
    requireNamespace(state, d, ns, obj.metadata.name ?? '');
    result = createObject(state, d, obj, { manager: 'kubectl-create', dryRun: false, warnings: [] }, undefined, status !== undefined);
  }
  if (status !== undefined && existing) result = internalUpdate(state, d, { ...result, status }, 'kubectl-edit', 'status');
  return result;
}

/** Reading and writing the store directly, past the API. */
export function storeControls(state: ServerState): Pick<FakeKubernetes, 'list' | 'get' | 'seed' | 'removeNamespaceNow' | 'holdTerminating' | 'expireWatches'> {
  return {
    list(apiVersion, kind, namespace, labelSelector) {
      const d = kindOf(state, apiVersion, kind);
      const labels = parseLabelSelector(labelSelector);
      return state.store
        .all(d, d.namespaced ? namespace : undefined)
        .filter((o) => labels(o.metadata.labels))
        .map((o) => clone(o));
    },
    get(apiVersion, kind, namespace, name) {
      const o = state.store.get(kindOf(state, apiVersion, kind), namespace, name);
      return o && clone(o);
    },
    seed: (input) => seed(state, input),
    removeNamespaceNow: (name) => removeNamespaceNow(state, name),
    holdTerminating: (name) => holdTerminating(state, name),
    expireWatches() {
      // Compacted past every resourceVersion handed out so far: each resume is refused.
      state.watches.expire(++state.store.resourceVersion);
    },
  };
}

/** What the cluster does next: rollouts, the Gateway controller, scripted failures and refusals. */
export function scriptControls(state: ServerState): Pick<FakeKubernetes, 'setRollout' | 'setGatewayScript' | 'failNext' | 'forbid' | 'allow'> {
  return {
    setRollout(fn) {
      state.rollout = fn;
    },
    setGatewayScript(fn) {
      state.gatewayScript = fn;
      state.controller.gatewayScriptChanged();
    },
    failNext(match, status, count = 1) {
      state.failures.push({ match, status, count });
    },
    forbid(verb, resource, group = '') {
      state.forbidden.add(`${verb} ${group}/${resource}`);
    },
    allow(verb, resource, group = '') {
      state.forbidden.delete(`${verb} ${group}/${resource}`);
    },
  };
}
