/**
 * What the fake API server's parts share: its options as resolved, the object store and the watches fed from it,
 * the control plane, the timers, and what the test has scripted (rollouts, failures, refusals, held namespaces).
 * The request handling, writes and test controls are plain functions over this state.
 */
import { randomUUID } from 'node:crypto';
import type { FakeKubernetes, FakeKubernetesOptions, RecordedKubeRequest } from '../fake-kubernetes.js';
import type { AdmissionView } from './admission.js';
import type { ValidatingAdmission } from './admission-hook.js';
import { DEFAULT_CRASH_LOG } from './container-logs.js';
import { ControlPlane } from './control-plane.js';
import type { Allocator } from './defaults.js';
import type { GatewayScript } from './gateway-controller.js';
import { ObjectStore } from './object-store.js';
import { defaultGroups } from './rbac.js';
import { GATEWAY_API_RESOURCES, RESOURCES, type ResourceDef } from './resources.js';
import type { RolloutContext, RolloutScript } from './rollout-script.js';
import { Timers } from './timers.js';
import { loadSchemaValidators } from './validation.js';
import { WatchHub } from './watches.js';
import { admissionViewOf, clusterHost, storeChanged } from './cluster-writes.js';

/** A failNext() script: the next `count` requests matching get `status`. */
export interface ScriptedFailure {
  match: Parameters<FakeKubernetes['failNext']>[0];
  status: number;
  count: number;
}

export interface ServerState {
  /** The kinds this server serves: the built-in ones, and the Gateway API's CRDs when asked to. */
  served: ResourceDef[];
  schemas: Awaited<ReturnType<typeof loadSchemaValidators>>;
  token: string;
  user: string;
  groups: string[];
  /** The uid the token's user has unless it is a stored service account (whose uid a real token carries). */
  userUid: string;
  rbacMode: boolean;
  terminatingMs: number;
  /** The options' validating admission, if given (else the one setValidatingAdmission() installed). */
  validatingAdmission?: ValidatingAdmission;
  store: ObjectStore;
  watches: WatchHub;
  admission: AdmissionView;
  controller: ControlPlane;
  timers: Timers;
  allocator: Allocator;
  rollout: (ctx: RolloutContext) => RolloutScript;
  gatewayScript?: GatewayScript;
  /** Every API request (not discovery/version), in order. */
  requests: RecordedKubeRequest[];
  discoveryRequests: number;
  failures: ScriptedFailure[];
  /** forbid()'s refusals, as `verb group/resource`. */
  forbidden: Set<string>;
  /** Namespaces holdTerminating() keeps Terminating. */
  held: Set<string>;
  /** Held namespaces whose content is gone: only the hold keeps them. */
  emptied: Set<string>;
}

function allocator(): Allocator {
  let nextIp = 10;
  let nextNodePort = 30000;
  return {
    clusterIP: () => `10.96.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`,
    nodePort: () => nextNodePort++,
  };
}

export async function createServerState(options: FakeKubernetesOptions): Promise<ServerState> {
  const served = options.gatewayApi ? [...RESOURCES, ...GATEWAY_API_RESOURCES] : RESOURCES;
  const user = options.user ?? 'system:serviceaccount:ephemera:worker';
  const watches = new WatchHub();
  // The store, the admission view and the control plane refer to each other through the state, filled in below.
  const state = {
    served,
    schemas: await loadSchemaValidators({ gatewayApi: options.gatewayApi !== undefined }),
    token: options.token ?? 'fake-token',
    user,
    groups: options.groups ?? defaultGroups(user),
    userUid: randomUUID(),
    rbacMode: options.authorization === 'rbac',
    terminatingMs: options.terminatingMs ?? 100,
    ...(options.validatingAdmission ? { validatingAdmission: options.validatingAdmission } : {}),
    watches,
    timers: new Timers(),
    allocator: allocator(),
    rollout: options.rollout ?? (() => 'success'),
    requests: [],
    discoveryRequests: 0,
    failures: [],
    forbidden: new Set<string>(),
    held: new Set<string>(),
    emptied: new Set<string>(),
  } as Omit<ServerState, 'store' | 'admission' | 'controller'> as ServerState;
  state.store = new ObjectStore(served, watches, (d, ns) => storeChanged(state, d, ns));
  state.admission = admissionViewOf(state);
  state.controller = new ControlPlane(clusterHost(state), {
    clock: { delayMs: options.controllerDelayMs ?? 30, secondMs: options.secondMs ?? 1000 },
    crashLog: options.crashLog ?? DEFAULT_CRASH_LOG,
    rollout: () => state.rollout,
    ...(options.gatewayApi ? { gatewayApi: { controllerName: options.gatewayApi.controllerName ?? 'example.net/gateway-controller', script: () => state.gatewayScript } } : {}),
  });
  return state;
}
