import type { AddressInfo } from 'node:net';
import type { ValidatingAdmission } from './fake-kubernetes/admission-hook.js';
import { DEF } from './fake-kubernetes/cluster-host.js';
import type { RolloutCompletion } from './fake-kubernetes/deployment-controller.js';
import type { GatewayScript } from './fake-kubernetes/gateway-controller.js';
import { kubeconfigFor, writeKubeconfig } from './fake-kubernetes/kubeconfig.js';
import { createObject } from './fake-kubernetes/object-writes.js';
import { bootstrapPolicy } from './fake-kubernetes/rbac.js';
import { createApiServer } from './fake-kubernetes/request-dispatch.js';
import { findKind } from './fake-kubernetes/resources.js';
import type { RolloutContext, RolloutScript } from './fake-kubernetes/rollout-script.js';
import { createServerState, type ServerState } from './fake-kubernetes/server-state.js';
import { scriptControls, storeControls } from './fake-kubernetes/test-controls.js';
import type { WriteContext } from './fake-kubernetes/write-admission.js';

export type { CrashScript, PullError, ReadinessScript, RolloutContext, RolloutScript, RolloutScriptName, RolloutScriptObject } from './fake-kubernetes/rollout-script.js';
export type { RolloutCompletion } from './fake-kubernetes/deployment-controller.js';
export type { GatewayConditionOverride, GatewayParentRef, GatewayScript, GatewayScriptResult, GatewayScriptRoute } from './fake-kubernetes/gateway-controller.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- stored objects are arbitrary Kubernetes JSON */

export interface FakeKubernetesOptions {
  /** Bearer token the server requires (default 'fake-token'); others get 401 Status. */
  token?: string;
  /** How long a deleted namespace stays Terminating before it and everything in it disappear (ms, default 100). */
  terminatingMs?: number;
  /** How long the controllers, scheduler and kubelet take to react to a change (real ms, default 30). */
  controllerDelayMs?: number;
  /** How long one Kubernetes second lasts (ms, default 1000): progressDeadlineSeconds, minReadySeconds, probe periods, the kubelet's back-offs. */
  secondMs?: number;
  /** Picks each generation's rollout outcome (see RolloutScript); default: always 'success'. */
  rollout?: (ctx: RolloutContext) => RolloutScript;
  /** Log text of a crashing container (CrashLoopBackOff), default some realistic lines ending in an error. */
  crashLog?: string;
  /** The user RBAC messages name (default the worker's service account, system:serviceaccount:ephemera:worker). */
  user?: string;
  /**
   * The token user's groups, as its authenticator would give them (used as given). Default: a service account's
   * (system:serviceaccounts, system:serviceaccounts:<namespace>, system:authenticated), else system:authenticated.
   */
  groups?: string[];
  /**
   * 'rbac': every API request is authorized by the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
   * as the API server's RBAC authorizer does (the bootstrap ClusterRoles cluster-admin and system:basic-user, bound to
   * system:authenticated, are there from the start), and writing roles and bindings is refused as privilege
   * escalation unless the user holds `escalate`/`bind` or every permission granted. Default: everything is allowed
   * but what forbid() refuses. forbid() and allow() override either way.
   */
  authorization?: 'rbac';
  /** Validating admission for the token user's writes; default: the one setValidatingAdmission() installed (none). */
  validatingAdmission?: ValidatingAdmission;
  /**
   * Serve the Gateway API (gateway.networking.k8s.io/v1 GatewayClass, Gateway, HTTPRoute), as a cluster with its
   * standard-channel CRDs installed does, with a Gateway implementation's controller that owns the GatewayClasses
   * naming `controllerName` (default example.net/gateway-controller), their Gateways, and the status of the routes
   * that attach to those (see setGatewayScript). Without it the group does not exist: discovery leaves it out and
   * its URLs answer 404.
   */
  gatewayApi?: { controllerName?: string };
}

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RecordedKubeRequest {
  verb: KubeVerb;
  /** '' for core. */
  group: string;
  /** Plural, with subresource as RBAC writes it: 'pods/log', 'deployments/status'. */
  resource: string;
  namespace?: string;
  name?: string;
  status: number;
  contentType?: string;
  fieldManager?: string;
  method: string;
  /** Path and query as sent. */
  url: string;
}

export interface FakeKubernetes {
  url: string;
  /** A kubeconfig (YAML text) pointing at the server: insecure-skip-tls-verify: true, a token user, context 'fake'. */
  kubeconfig: string;
  /** Writes the kubeconfig into `dir` and returns the file path. */
  writeKubeconfig(dir: string): string;
  /** Every API request (not discovery/version), in order. */
  requests: RecordedKubeRequest[];
  /** How many discovery requests (/api, /apis, /api/v1, /apis/g, /apis/g/v, /version) were served. */
  readonly discoveryRequests: number;
  /** Read stored objects directly (deep copies): by apiVersion+kind, optional namespace and label selector string. */
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): any[];
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): any | undefined;
  /** Store an object as if someone else created it (validated the same way); an existing one is replaced. A given status is kept. */
  seed(obj: object): any;
  /** Removes a namespace and its contents at once, as if an operator force-deleted it. */
  removeNamespaceNow(name: string): void;
  /** Keeps namespace `name` Terminating until released (a stuck finalizer); release() lets it go. */
  holdTerminating(name: string): { release(): void };
  /**
   * Ends every open watch and forgets the changes made so far, as an API server whose watch cache moved on (or whose
   * etcd was compacted) does: a client resuming from its last resourceVersion gets 410 Gone and must list again.
   */
  expireWatches(): void;
  /**
   * Date.now() when the change that made `resourceVersion` was stored (while the watch cache keeps it, the last 5,000
   * changes): when a controller or the kubelet acted, which a watcher's arrival time only bounds from above.
   */
  changedAt(resourceVersion: string): number | undefined;
  setRollout(fn: (ctx: RolloutContext) => RolloutScript): void;
  /**
   * What the Gateway controller writes for a route's parentRef to one of its Gateways: the script may override the
   * Accepted and ResolvedRefs conditions the rules decided, or have it write nothing ('ignore'); undefined: the
   * rules alone. Routes are reconciled again with the new script.
   */
  setGatewayScript(fn: GatewayScript | undefined): void;
  /** Appended when the controller first marks a generation's rollout complete (Progressing: NewReplicaSetAvailable). */
  rolloutsCompleted: RolloutCompletion[];
  /** The next `count` requests matching (any omitted field matches) get `status` with a proper Status body. */
  failNext(match: { verb?: string; resource?: string; namespace?: string; name?: string; group?: string }, status: number, count?: number): void;
  /** Every request for (verb, group/resource) is refused 403 as RBAC would (in rbac mode too, whatever the roles allow); also reflected in SelfSubjectAccessReview answers. */
  forbid(verb: string, resource: string, group?: string): void;
  /** Undoes forbid(). */
  allow(verb: string, resource: string, group?: string): void;
  close(): Promise<void>;
}

/** What every cluster has from the start: its system namespaces and (rbac mode) the bootstrap roles. */
function bootstrap(state: ServerState): void {
  const system: WriteContext = { manager: 'kube-apiserver', dryRun: false, warnings: [] };
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) createObject(state, DEF.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, system);
  if (state.rbacMode) for (const obj of bootstrapPolicy()) createObject(state, findKind(obj.apiVersion, obj.kind)!, obj, system);
}

/**
 * A local Kubernetes API server over plain HTTP, faithful enough that @kubernetes/client-node works against it
 * unchanged: discovery, CRUD with server-side apply and the patch types, Status errors, validation against the
 * kinds' OpenAPI schemas plus the server's own rules, namespace termination, RBAC refusals, and a scripted
 * controller that rolls Deployments out into ReplicaSets, Pods and Events.
 *
 * @example
 *   const kube = await startFakeKubernetes({ rollout: () => 'CrashLoopBackOff' });
 *   const kubeconfigPath = kube.writeKubeconfig(tmpDir);
 *   // …run the code under test against it, then:
 *   await kube.close();
 */
export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const state = await createServerState(options);
  const server = createApiServer(state);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = kubeconfigFor(url, state.token);
  bootstrap(state);
  return {
    url,
    kubeconfig,
    writeKubeconfig: (dir) => writeKubeconfig(dir, kubeconfig),
    requests: state.requests,
    rolloutsCompleted: state.controller.rolloutsCompleted,
    changedAt: (resourceVersion) => state.watches.changedAt(Number(resourceVersion)),
    get discoveryRequests() {
      return state.discoveryRequests;
    },
    ...storeControls(state),
    ...scriptControls(state),
    close: () =>
      new Promise<void>((resolve) => {
        state.timers.close();
        state.watches.closeAll();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
