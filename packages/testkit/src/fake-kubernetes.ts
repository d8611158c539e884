import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { applyLimitRanges, checkClaimQuota, checkPodQuota, podSecurityMessage, quotaUsed, type AdmissionView } from './fake-kubernetes/admission.js';
import { admissionPolicyDefaults, admissionRequest, validatingAdmission, type AdmissionRequest, type ValidatingAdmission } from './fake-kubernetes/admission-hook.js';
import { DEF, type ClusterHost } from './fake-kubernetes/cluster-host.js';
import { DEFAULT_CRASH_LOG } from './fake-kubernetes/container-logs.js';
import { ControlPlane } from './fake-kubernetes/control-plane.js';
import type { RolloutCompletion } from './fake-kubernetes/deployment-controller.js';
import { applyDefaults, initialStatus, type Allocator } from './fake-kubernetes/defaults.js';
import type { GatewayScript } from './fake-kubernetes/gateway-controller.js';
import { gatewayApiDefaults, gatewayApiInitialStatus } from './fake-kubernetes/gateway-api-schema.js';
import {
  applyConfiguration,
  ApplyConflictError,
  clone,
  deepEqual,
  isObject,
  jsonPatch,
  JsonPatchError,
  mainContent,
  mergePatch,
  sameObject,
  stripNulls,
  strategicMergePatch,
  trackUpdate,
  type ManagedFieldsEntry,
  type Obj,
} from './fake-kubernetes/merge.js';
import { randomSuffix } from './fake-kubernetes/names.js';
import { formatFor, parseQuantity } from './fake-kubernetes/quantity.js';
import {
  accessReviewStatus,
  authorize as rbacAuthorize,
  bootstrapPolicy,
  defaultGroups,
  escalationRefusal,
  rbacDefaults,
  requestAttributes,
  type Attributes,
  type Decision,
  type RbacObjects,
  type UserInfo,
} from './fake-kubernetes/rbac.js';
import { checkIdentity, parseBody, parseRoute, rbacSubject, type Route } from './fake-kubernetes/requests.js';
import {
  apiVersionOf,
  discoveryDocument,
  findKind,
  GATEWAY_API_RESOURCES,
  isDiscoveryPath,
  listTypes,
  qualifiedResource,
  RESOURCES,
  type ResourceDef,
} from './fake-kubernetes/resources.js';
import { parseFieldSelector, parseLabelSelector, type FieldMatcher, type LabelMatcher } from './fake-kubernetes/selectors.js';
import {
  alreadyExists,
  applyConflict,
  badRequest,
  conflict,
  forbidden,
  KubeError,
  methodNotAllowed,
  namespaceNotFound,
  notFound,
  notFoundPath,
  scriptedFailure,
  unauthorized,
  unsupportedMediaType,
} from './fake-kubernetes/status.js';
import type { RolloutContext, RolloutScript } from './fake-kubernetes/rollout-script.js';
import { checkBase64Data, loadSchemaValidators, validateObject } from './fake-kubernetes/validation.js';
import { WatchHistory, expiredStatus } from './fake-kubernetes/watch-history.js';

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

interface RecordedKubeRequest {
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

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const def = (apiVersion: string, kind: string) => findKind(apiVersion, kind)!;
const NS = def('v1', 'Namespace');
const POD = def('v1', 'Pod');
const DEPLOYMENT = def('apps/v1', 'Deployment');
const REPLICASET = def('apps/v1', 'ReplicaSet');
const QUOTA = def('v1', 'ResourceQuota');
const EVENT = def('v1', 'Event');
const SSAR = def('authorization.k8s.io/v1', 'SelfSubjectAccessReview');
const SSR = def('authentication.k8s.io/v1', 'SelfSubjectReview');
const VAP = def('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy');
const VAP_BINDING = def('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding');
const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];
const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\ndmVyLWNhQGZha2Uta3ViZXJuZXRlczAeFw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEw\n-----END CERTIFICATE-----\n';
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

interface Watcher {
  def: ResourceDef;
  namespace?: string;
  labels: LabelMatcher;
  fields: FieldMatcher;
  res: http.ServerResponse;
}

interface WriteContext {
  manager: string;
  dryRun: boolean;
  warnings: string[];
  /** Set for the token user's own requests (not seeds, not the cluster's components): escalation checks and validating admission apply. */
  request?: UserRequest;
}

interface UserRequest {
  user: UserInfo;
  /** The request's namespace and the name in its URL (none for a POST): what `escalate` is asked about. */
  namespace?: string;
  name?: string;
  /** A server-side apply that creates: `create` is authorized where admission runs, as the API server does. */
  authorizeCreate?: boolean;
}

/**
 * A local Kubernetes API server over plain HTTP, faithful enough that @kubernetes/client-node works against it
 * unchanged: discovery, CRUD with server-side apply and the patch types, Status errors, validation against the
 * kinds' OpenAPI schemas plus the server's own rules, namespace termination, RBAC refusals, and a scripted
 * controller that rolls Deployments out into ReplicaSets, Pods and Events.
 */
export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const schemas = await loadSchemaValidators({ gatewayApi: options.gatewayApi !== undefined });
  /** The kinds this server serves: the built-in ones, and the Gateway API's CRDs when asked to. */
  const served = options.gatewayApi ? [...RESOURCES, ...GATEWAY_API_RESOURCES] : RESOURCES;
  let gatewayScript: GatewayScript | undefined;
  const token = options.token ?? 'fake-token';
  const user = options.user ?? 'system:serviceaccount:ephemera:worker';
  const terminatingMs = options.terminatingMs ?? 100;
  let rollout: (ctx: RolloutContext) => RolloutScript = options.rollout ?? (() => 'success');
  const requests: RecordedKubeRequest[] = [];
  let discoveryRequests = 0;
  const failures: Array<{ match: { verb?: string; resource?: string; namespace?: string; name?: string; group?: string }; status: number; count: number }> = [];
  const forbidden_ = new Set<string>();
  const rbacMode = options.authorization === 'rbac';
  const groups = options.groups ?? defaultGroups(user);
  /** The uid the token's user has unless it is a stored service account (whose uid a real token carries). */
  const userUid = randomUUID();
  const held = new Set<string>();
  /** Held namespaces whose content is gone: only the hold keeps them. */
  const emptied = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const watchers = new Set<Watcher>();
  const history = new WatchHistory();
  const store = new Map<ResourceDef, Map<string, Obj>>(served.map((d) => [d, new Map()]));
  let resourceVersion = 1000;
  let nextIp = 10;
  let nextNodePort = 30000;
  let closed = false;

  const allocator: Allocator = {
    clusterIP: () => `10.96.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`,
    nodePort: () => nextNodePort++,
  };

  function schedule(ms: number, fn: () => void): void {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    t.unref();
    timers.add(t);
  }

  // ---- store -----------------------------------------------------------------------------------------------------

  const keyOf = (d: ResourceDef, ns: string | undefined, name: string) => `${d.namespaced ? (ns ?? '') : ''}/${name}`;
  const stored = (d: ResourceDef, ns: string | undefined, name: string) => store.get(d)!.get(keyOf(d, ns, name));
  const all = (d: ResourceDef, ns?: string): Obj[] =>
    [...store.get(d)!.entries()]
      .filter(([k]) => ns === undefined || k.startsWith(`${ns}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v);

  function notify(d: ResourceDef, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Obj): void {
    history.record({ resourceVersion: Number(obj.metadata.resourceVersion), def: d, type, object: clone(obj) });
    for (const w of watchers) {
      if (w.def !== d || (w.namespace !== undefined && obj.metadata.namespace !== w.namespace)) continue;
      if (!w.labels(obj.metadata.labels) || !w.fields(obj) || w.res.writableEnded) continue;
      w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
  }

  function persist(d: ResourceDef, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    obj.metadata.resourceVersion = String(++resourceVersion);
    store.get(d)!.set(keyOf(d, obj.metadata.namespace, obj.metadata.name), obj);
    notify(d, type, obj);
    if (d.namespaced && d !== EVENT) refreshQuotas(obj.metadata.namespace);
    controller.observed(d);
    return obj;
  }

  function unstore(d: ResourceDef, ns: string | undefined, name: string): Obj | undefined {
    const obj = stored(d, ns, name);
    if (!obj) return undefined;
    store.get(d)!.delete(keyOf(d, ns, name));
    obj.metadata.resourceVersion = String(++resourceVersion);
    notify(d, 'DELETED', obj);
    if (d.namespaced && d !== EVENT) refreshQuotas(ns);
    controller.observed(d);
    return obj;
  }

  const admissionView: AdmissionView = {
    limitRanges: (ns) => all(def('v1', 'LimitRange'), ns),
    quotas: (ns) => all(QUOTA, ns),
    pods: (ns) => all(POD, ns),
    claims: (ns) => all(DEF.pvc, ns),
    count: (ns, resource) => {
      const [plural, ...group] = resource.split('.');
      const d = served.find((r) => r.resource === plural && r.group === group.join('.'));
      return d ? all(d, ns).length : 0;
    },
  };

  /** The quota controller's half: status.hard and status.used kept current. */
  function refreshQuotas(ns: string | undefined): void {
    if (!ns) return;
    for (const quota of all(QUOTA, ns)) {
      const status = { hard: { ...(quota.spec?.hard ?? {}) }, used: quotaUsed(quota, ns, admissionView) };
      if (!deepEqual(quota.status, status)) internalUpdate(QUOTA, { ...quota, status }, 'kube-controller-manager', 'status');
    }
  }

  /** Objects written by the cluster's own components: no validation, ownership recorded. */
  function internalCreate(d: ResourceDef, input: Obj, manager: string): Obj {
    const obj = clone(input);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    if (d.generation) obj.metadata.generation = 1;
    obj.metadata.managedFields = trackUpdate({ before: undefined, after: obj, managed: [], manager, apiVersion: apiVersionOf(d), now: now(), lists: listTypes(d) });
    if (obj.status !== undefined && d.statusSubresource) {
      obj.metadata.managedFields = trackUpdate({ before: undefined, after: obj, managed: obj.metadata.managedFields, manager, apiVersion: apiVersionOf(d), now: now(), subresource: 'status', lists: listTypes(d) });
    }
    return clone(persist(d, obj, 'ADDED'));
  }

  function internalUpdate(d: ResourceDef, input: Obj, manager: string, sub?: 'status'): Obj {
    const existing = stored(d, input.metadata?.namespace, input.metadata?.name);
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
    return clone(persist(d, next, 'MODIFIED'));
  }

  const host: ClusterHost = {
    get: (d, ns, name) => {
      const o = stored(d, ns, name);
      return o && clone(o);
    },
    list: (d, ns) => all(d, ns).map((o) => clone(o)),
    create: internalCreate,
    update: internalUpdate,
    remove: (d, ns, name) => void unstore(d, ns, name),
    namespace: (name) => stored(NS, undefined, name),
    admission: admissionView,
    schedule,
  };
  const controller = new ControlPlane(host, {
    clock: { delayMs: options.controllerDelayMs ?? 30, secondMs: options.secondMs ?? 1000 },
    crashLog: options.crashLog ?? DEFAULT_CRASH_LOG,
    rollout: () => rollout,
    ...(options.gatewayApi ? { gatewayApi: { controllerName: options.gatewayApi.controllerName ?? 'example.net/gateway-controller', script: () => gatewayScript } } : {}),
  });

  // ---- writes ----------------------------------------------------------------------------------------------------

  function requireNamespace(d: ResourceDef, ns: string | undefined, name: string): void {
    if (!d.namespaced || !ns) return;
    const namespace = stored(NS, undefined, ns);
    if (!namespace) throw namespaceNotFound(ns);
    if (namespace.status?.phase === 'Terminating') {
      const message = `namespace ${ns} is being terminated`;
      throw forbidden(d, name, `unable to create new content in namespace ${ns} because it is being terminated`, [
        { reason: 'NamespaceTerminating', message, field: 'metadata.namespace' },
      ]);
    }
  }

  /** Validating admission on creation: pod admission (limits, quota, pod security) and object-count quotas. */
  function admitCreate(d: ResourceDef, obj: Obj, ctx: WriteContext): void {
    const ns = obj.metadata.namespace as string | undefined;
    if (!ns) return;
    const namespace = stored(NS, undefined, ns);
    if (d === POD) {
      const refusal = applyLimitRanges(obj, admissionView.limitRanges(ns)) ?? checkPodQuota(obj, ns, admissionView) ?? podSecurityMessage(obj.spec, namespace);
      if (refusal) throw forbidden(d, obj.metadata.name, refusal);
    }
    if (d === DEF.pvc) {
      const refusal = checkClaimQuota(obj, ns, admissionView);
      if (refusal) throw forbidden(d, obj.metadata.name, refusal);
    }
    if (d === DEPLOYMENT || d === REPLICASET || d === DEF.statefulSet || d === DEF.job) {
      const warning = podSecurityMessage(obj.spec?.template?.spec, namespace, 'would violate');
      if (warning) ctx.warnings.push(warning);
    }
    for (const quota of all(QUOTA, ns)) {
      for (const key of [d.resource, `count/${qualifiedResource(d)}`]) {
        const hard = parseQuantity(quota.spec?.hard?.[key]);
        if (hard === undefined || key === 'pods') continue;
        const used = admissionView.count(ns, qualifiedResource(d));
        if (used + 1 > hard) {
          throw forbidden(d, obj.metadata.name, `exceeded quota: ${quota.metadata.name}, requested: ${key}=1, used: ${key}=${formatFor(key, used)}, limited: ${key}=${quota.spec.hard[key]}`);
        }
      }
    }
  }

  function createObject(d: ResourceDef, obj: Obj, ctx: WriteContext, managed?: ManagedFieldsEntry[], keepStatus = false): Obj {
    const meta = obj.metadata;
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink']) delete meta[k];
    if (!meta.name && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!keepStatus && d.statusSubresource) {
      const status = initialStatus(d, obj) ?? gatewayApiInitialStatus(d.kind);
      if (status === undefined) delete obj.status;
      else obj.status = status;
    }
    checkBase64Data(d, obj);
    defaults(d, obj, undefined);
    if (d === DEF.pvc) controller.admitClaim(obj);
    refuseEscalation(d, obj, undefined, ctx);
    validateObject(d, obj, undefined, schemas);
    admitCreate(d, obj, ctx);
    // A new pod's QoS class follows what LimitRanger gave its containers.
    if (!keepStatus && d === POD) obj.status = initialStatus(d, obj);
    // A Job's uid is already its generated selector's.
    meta.uid ??= randomUUID();
    meta.creationTimestamp = now();
    if (d.generation) meta.generation = 1;
    meta.managedFields = managed ?? trackUpdate({ before: undefined, after: obj, managed: [], manager: ctx.manager, apiVersion: apiVersionOf(d), now: now(), lists: listTypes(d) });
    admit(d, 'CREATE', obj, undefined, ctx);
    const existing = stored(d, meta.namespace, meta.name);
    if (existing) throw alreadyExists(d, meta.name, existing.metadata.deletionTimestamp !== undefined);
    if (ctx.dryRun) return obj;
    persist(d, obj, 'ADDED');
    if (d === NS) {
      // What the service account and root CA controllers add to every new namespace.
      internalCreate(def('v1', 'ServiceAccount'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: meta.name } }, 'kube-controller-manager');
      internalCreate(
        def('v1', 'ConfigMap'),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: meta.name, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': FAKE_CA } },
        'kube-controller-manager',
      );
    }
    if (d === DEPLOYMENT) controller.deploymentChanged(obj);
    if (d === QUOTA) refreshQuotas(meta.namespace);
    controller.changed(d, obj);
    return clone(stored(d, meta.namespace, meta.name)!);
  }

  function updateObject(d: ResourceDef, existing: Obj, candidate: Obj, ctx: WriteContext, opts: { sub?: string; managed?: ManagedFieldsEntry[] } = {}): Obj {
    let next = candidate;
    if (opts.sub === 'status') next = { ...clone(existing), status: clone(candidate.status) };
    next.apiVersion = apiVersionOf(d);
    next.kind = d.kind;
    next.metadata = { ...(next.metadata ?? {}), name: existing.metadata.name };
    if (d.namespaced) next.metadata.namespace = existing.metadata.namespace;
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generateName']) {
      if (existing.metadata[k] !== undefined) next.metadata[k] = existing.metadata[k];
      else delete next.metadata[k];
    }
    delete next.metadata.selfLink;
    if (!opts.sub && d.statusSubresource) {
      if (existing.status === undefined) delete next.status;
      else next.status = clone(existing.status);
    }
    if (!opts.sub) {
      checkBase64Data(d, next);
      defaults(d, next, existing);
      refuseEscalation(d, next, existing, ctx);
    }
    validateObject(d, next, existing, schemas);
    if (d.generation) {
      const specChanged = !opts.sub && !deepEqual(existing.spec, next.spec);
      next.metadata.generation = (existing.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    } else delete next.metadata.generation;
    if (!opts.sub && (d === DEPLOYMENT || d === REPLICASET)) {
      const warning = podSecurityMessage(next.spec?.template?.spec, stored(NS, undefined, next.metadata.namespace), 'would violate');
      if (warning) ctx.warnings.push(warning);
    }
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
    admit(d, 'UPDATE', next, existing, ctx, opts.sub);
    // A write that changes nothing leaves resourceVersion alone, as the API server's no-op detection does.
    const unchanged = sameObject(existing, next);
    if (unchanged || ctx.dryRun) return clone(unchanged ? existing : next);
    const generationChanged = next.metadata.generation !== existing.metadata.generation;
    persist(d, next, 'MODIFIED');
    if (d === DEPLOYMENT && generationChanged) controller.deploymentChanged(next);
    if (generationChanged || d === DEF.pvc) controller.changed(d, next);
    if (d === QUOTA) refreshQuotas(next.metadata.namespace);
    return clone(stored(d, next.metadata.namespace, next.metadata.name)!);
  }

  /** What the API server defaults on every write, the RBAC and admission policy kinds' included. */
  function defaults(d: ResourceDef, obj: Obj, old: Obj | undefined): void {
    applyDefaults(d, obj, old, allocator);
    rbacDefaults(d.kind, obj);
    admissionPolicyDefaults(d.kind, obj);
    if (d.crd) gatewayApiDefaults(d.kind, obj);
  }

  /** RBAC's registry refuses the token user's roles and bindings that grant more than the user may (rbac mode). */
  function refuseEscalation(d: ResourceDef, obj: Obj, old: Obj | undefined, ctx: WriteContext): void {
    if (!rbacMode || !ctx.request || d.group !== 'rbac.authorization.k8s.io') return;
    const { user, namespace = '', name = '' } = ctx.request;
    const refusal = escalationRefusal({ objects: rbacObjects, authorize: authorizeRequest, user, resource: d.resource, obj, old, namespace, requestName: name });
    if (refusal) throw refusal;
  }

  /**
   * VALIDATING ADMISSION CALL SITE: every write of the token user (create, update, patch, apply, subresources,
   * delete) passes here after authorization, defaulting and validation and before it is stored; seeds and the
   * cluster's components do not. An apply that creates is authorized for `create` here first, as the API server does.
   */
  function admit(d: ResourceDef, operation: AdmissionRequest['operation'], obj: Obj | undefined, old: Obj | undefined, ctx: WriteContext, subResource?: string): void {
    const request = ctx.request;
    if (!request) return;
    if (request.authorizeCreate && operation === 'CREATE') {
      const decision = authorizeRequest({ verb: 'create', resourceRequest: true, group: d.group, resource: d.resource, namespace: request.namespace, name: request.name });
      if (!decision.allowed) throw forbidden(d, request.name, decision.reason);
    }
    const ns = d.namespaced ? (obj ?? old)?.metadata?.namespace : undefined;
    const denial = (options.validatingAdmission ?? validatingAdmission())(
      admissionRequest({ operation, def: d, subResource, object: obj, oldObject: old, namespaceObject: ns ? stored(NS, undefined, ns) : undefined, userInfo: request.user, dryRun: ctx.dryRun }),
      { policies: all(VAP).map((o) => clone(o)), bindings: all(VAP_BINDING).map((o) => clone(o)) },
    );
    if (denial) throw new KubeError(denial.code, denial.reason, denial.message);
  }

  // ---- namespaces ------------------------------------------------------------------------------------------------

  function namespaceConditions(name: string, stuck: boolean): Obj[] {
    const at = now();
    const counts: string[] = [];
    for (const d of served.filter((r) => r.namespaced)) {
      const n = all(d, name).length;
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

  function purgeNamespace(name: string): void {
    const ns = stored(NS, undefined, name);
    if (ns) {
      // Bypasses the terminating check: what the namespace controller deletes is not new content.
      ns.status = { ...(ns.status ?? {}), phase: 'Terminating' };
    }
    for (const d of served.filter((r) => r.namespaced)) for (const obj of all(d, name)) unstore(d, name, obj.metadata.name);
  }

  function finishNamespace(name: string): void {
    const ns = stored(NS, undefined, name);
    if (!ns || ns.metadata.deletionTimestamp === undefined) return;
    purgeNamespace(name);
    if (held.has(name)) {
      emptied.add(name);
      internalUpdate(NS, { ...ns, status: { phase: 'Terminating', conditions: namespaceConditions(name, true) } }, 'kube-controller-manager', 'status');
      return;
    }
    emptied.delete(name);
    unstore(NS, undefined, name);
  }

  function deleteNamespace(existing: Obj, ctx: WriteContext): Obj {
    const name = existing.metadata.name as string;
    if (PROTECTED_NAMESPACES.includes(name)) throw forbidden(NS, name, 'this namespace may not be deleted');
    admit(NS, 'DELETE', undefined, existing, ctx);
    if (existing.metadata.deletionTimestamp !== undefined || ctx.dryRun) return clone(existing);
    const next = clone(existing);
    next.metadata.deletionTimestamp = now();
    next.metadata.deletionGracePeriodSeconds = 0;
    next.status = { phase: 'Terminating', conditions: namespaceConditions(name, false) };
    persist(NS, next, 'MODIFIED');
    schedule(terminatingMs, () => finishNamespace(name));
    return clone(next);
  }

  // ---- request handling ------------------------------------------------------------------------------------------

  function isForbidden(verb: string, group: string, resource: string): boolean {
    return forbidden_.has(`${verb} ${group}/${resource}`) || forbidden_.has(`* ${group}/${resource}`);
  }

  const rbacObjects: RbacObjects = {
    clusterRoleBindings: () => all(def('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding')),
    roleBindings: (ns) => all(def('rbac.authorization.k8s.io/v1', 'RoleBinding'), ns),
    clusterRole: (name) => stored(def('rbac.authorization.k8s.io/v1', 'ClusterRole'), undefined, name),
    role: (ns, name) => stored(def('rbac.authorization.k8s.io/v1', 'Role'), ns, name),
  };

  /** The token's user, as the authenticator gives it (a service account's uid is its object's). */
  function userInfo(): UserInfo {
    const sa = user.match(/^system:serviceaccount:([^:]+):(.+)$/);
    const account = sa ? stored(def('v1', 'ServiceAccount'), sa[1], sa[2]!) : undefined;
    return { username: user, uid: account?.metadata.uid ?? userUid, groups: [...groups] };
  }

  /**
   * The server's authorizer: forbid() refuses; then (rbac mode) kube-apiserver's union of the privileged-groups
   * authorizer (system:masters may do anything) and RBAC; otherwise everything is allowed.
   */
  function authorizeRequest(attrs: Attributes): Decision {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : (attrs.resource ?? '');
    if (attrs.resourceRequest && isForbidden(attrs.verb, attrs.group ?? '', resource)) return { allowed: false, reason: '' };
    if (!rbacMode || groups.includes('system:masters')) return { allowed: true, reason: '' };
    return rbacAuthorize(rbacObjects, userInfo(), attrs);
  }

  /** The authorization filter's 403: responsewriters.Forbidden, with the authorizer's reason when it gave one. */
  function rbacRefusal(route: Omit<Route, 'inNamespacePath'>, verb: string, reason = ''): KubeError {
    const resource = route.sub ? `${route.resource}/${route.sub}` : route.resource;
    const qualified = qualifiedResource({ group: route.group, resource: route.resource });
    const subject = route.name ? `${qualified} "${route.name}"` : qualified;
    const scope = route.namespace ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
    return new KubeError(403, 'Forbidden', `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${route.group}" ${scope}${reason ? `: ${reason}` : ''}`, {
      ...(route.name ? { name: route.name } : {}),
      group: route.group || undefined,
      kind: route.resource,
    });
  }

  function list(d: ResourceDef, ns: string | undefined, query: URLSearchParams): Obj {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'), d.fields);
    let items = all(d, ns).filter((o) => labels(o.metadata.labels) && fields(o));
    const token = query.get('continue');
    if (token) {
      let start: string;
      try {
        start = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { start: string }).start;
      } catch {
        throw badRequest(`continue key is not valid: illegal base64 data`);
      }
      items = items.filter((o) => keyOf(d, o.metadata.namespace, o.metadata.name) > start);
    }
    const limit = Number(query.get('limit') ?? 0);
    const metadata: Obj = { resourceVersion: String(resourceVersion) };
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: resourceVersion, start: keyOf(d, last.metadata.namespace, last.metadata.name) })).toString('base64');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return { kind: `${d.kind}List`, apiVersion: apiVersionOf(d), metadata, items: items.map((o) => clone(o)) };
  }

  function watch(d: ResourceDef, route: Route, query: URLSearchParams, res: http.ServerResponse): void {
    const fieldSelector = route.name ? `metadata.name=${route.name}` : query.get('fieldSelector');
    const w: Watcher = { def: d, labels: parseLabelSelector(query.get('labelSelector')), fields: parseFieldSelector(fieldSelector, d.fields), res };
    if (route.namespace && d.namespaced) w.namespace = route.namespace;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'audit-id': randomUUID() });
    // A watch with nothing to report yet must still answer at once: clients wait for the headers.
    res.flushHeaders();
    const rv = query.get('resourceVersion');
    const matches = (o: Obj) => (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.labels(o.metadata.labels) && w.fields(o);
    if (!rv || rv === '0') {
      for (const o of all(d, w.namespace)) if (matches(o)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      // Every change since that resourceVersion, as the API server's watch cache replays them; or 410 when too old.
      const since = history.since(Number(rv));
      if (since.expired) {
        res.end(`${JSON.stringify({ type: 'ERROR', object: expiredStatus(Number(rv), since.oldest) })}\n`);
        return;
      }
      for (const e of since.events) if (e.def === d && matches(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    watchers.add(w);
    res.on('close', () => watchers.delete(w));
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) schedule(timeout * 1000, () => res.end());
  }

  function podLog(route: Route, query: URLSearchParams): string {
    const pod = stored(POD, route.namespace, route.name!);
    if (!pod) throw notFound(POD, route.name!);
    const names: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c.name);
    const all_ = [...names, ...(pod.spec?.initContainers ?? []).map((c: Obj) => c.name as string)];
    let container = query.get('container') ?? '';
    if (!container) {
      if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${route.name}, choose one of: [${names.join(' ')}]`);
      container = names[0]!;
    }
    if (!all_.includes(container)) throw badRequest(`container ${container} is not valid for pod ${route.name}`);
    const result = controller.logs(pod, container, query.get('previous') === 'true');
    if ('error' in result) throw badRequest(result.error);
    let lines = result.text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (query.get('timestamps') === 'true') {
      const stamp = (pod.status?.startTime ?? now()).replace('Z', '.000000000Z');
      lines = lines.map((l) => `${stamp} ${l}`);
    }
    const tail = query.get('tailLines');
    if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
    let text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    const limitBytes = Number(query.get('limitBytes') ?? 0);
    if (limitBytes > 0) text = Buffer.from(text).subarray(0, limitBytes).toString('utf8');
    return text;
  }

  function accessReview(body: Obj): Obj {
    const review: Obj = { ...body, apiVersion: apiVersionOf(SSAR), kind: SSAR.kind, metadata: {} };
    validateObject(SSAR, { ...review, metadata: { name: 'review' } }, undefined, schemas);
    if (rbacMode) return { ...review, status: accessReviewStatus(isObject(review.spec) ? review.spec : {}, authorizeRequest) };
    const attrs = review.spec?.resourceAttributes;
    let allowed = true;
    if (isObject(attrs)) {
      const resource = attrs.subresource ? `${attrs.resource ?? ''}/${attrs.subresource}` : String(attrs.resource ?? '');
      allowed = !isForbidden(String(attrs.verb ?? ''), String(attrs.group ?? ''), resource);
    }
    return {
      ...review,
      status: allowed ? { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "ephemera-worker" of ClusterRole "ephemera-worker" to ${rbacSubject(user)}` } : { allowed: false },
    };
  }

  /** SelfSubjectReview: who the token is. */
  function selfReview(body: Obj): Obj {
    const review: Obj = { ...body, apiVersion: apiVersionOf(SSR), kind: SSR.kind, metadata: {} };
    validateObject(SSR, { ...review, metadata: { name: 'review' } }, undefined, schemas);
    return { ...review, status: { userInfo: userInfo() } };
  }

  /** Handles one API (non-discovery) request; answers [status, body] or writes the response itself (watch). */
  function serve(route: Route, method: string, query: URLSearchParams, raw: string, contentType: string, userAgent: string, res: http.ServerResponse, ctx: WriteContext): [number, unknown] | undefined {
    const d = route.def;
    if (!d) throw notFoundPath();
    if (route.inNamespacePath && !d.namespaced) throw notFoundPath();
    if (d.namespaced && !route.inNamespacePath && route.name) throw notFoundPath();
    const verb = route.verb;
    if (!verb) throw methodNotAllowed();
    if (route.sub) {
      const subVerbs = d.subresources[route.sub];
      if (!subVerbs || !route.name) throw notFoundPath();
      if (!subVerbs.includes(verb)) throw methodNotAllowed();
    } else if (!d.verbs.includes(verb) || (verb === 'create' && route.name) || ((verb === 'update' || verb === 'patch') && !route.name)) throw methodNotAllowed();
    if (d.namespaced && !route.namespace && !['list', 'watch'].includes(verb)) throw methodNotAllowed();
    ctx.manager = query.get('fieldManager') ?? (userAgent.split('/')[0] || 'unknown');
    ctx.dryRun = query.get('dryRun') === 'All';

    if (d === SSAR) return [201, accessReview(parseBody(raw, contentType))];
    if (d === SSR) return [201, selfReview(parseBody(raw, contentType))];
    if (route.sub === 'log') return [200, podLog(route, query)];
    if (verb === 'watch') {
      watch(d, route, query, res);
      return undefined;
    }
    if (verb === 'list') return [200, list(d, route.namespace, query)];
    if (verb === 'get') {
      const obj = stored(d, route.namespace, route.name!);
      if (!obj) throw notFound(d, route.name!);
      return [200, clone(obj)];
    }
    if (verb === 'create') {
      const obj = parseBody(raw, contentType);
      checkIdentity(d, obj, route);
      requireNamespace(d, route.namespace, obj.metadata.name ?? '');
      return [201, createObject(d, obj, ctx)];
    }
    if (verb === 'deletecollection') {
      const deleted = list(d, route.namespace, query).items as Obj[];
      for (const o of deleted) {
        admit(d, 'DELETE', undefined, o, ctx);
        if (!ctx.dryRun) deleteOne(d, o);
      }
      return [200, { kind: `${d.kind}List`, apiVersion: apiVersionOf(d), metadata: { resourceVersion: String(resourceVersion) }, items: deleted }];
    }
    const existing = stored(d, route.namespace, route.name!);
    if (verb === 'delete') {
      if (!existing) throw notFound(d, route.name!);
      const options = raw.trim() ? parseBody(raw, 'application/json') : {};
      const pre = isObject(options.preconditions) ? options.preconditions : {};
      if (pre.uid && pre.uid !== existing.metadata.uid) throw conflict(d, route.name!, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`);
      if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
        throw conflict(d, route.name!, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`);
      }
      if (d === NS) return [200, deleteNamespace(existing, ctx)];
      admit(d, 'DELETE', undefined, existing, ctx);
      const gone = ctx.dryRun ? clone(existing) : deleteOne(d, existing);
      if (d.returnsDeleted) return [200, gone];
      return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: route.name, group: d.group || undefined, kind: d.resource, uid: existing.metadata.uid } }];
    }
    if (verb === 'update') {
      if (!existing) throw notFound(d, route.name!);
      const obj = parseBody(raw, contentType);
      checkIdentity(d, obj, route);
      const rv = obj.metadata.resourceVersion;
      if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(d, route.name!);
      if (route.sub === 'finalize') return [200, finalizeNamespace(existing, obj, ctx)];
      return [200, updateObject(d, existing, obj, ctx, route.sub ? { sub: route.sub } : {})];
    }
    // PATCH
    const patchType = contentType.split(';')[0]!.trim().toLowerCase();
    // Custom resources have no strategic-merge metadata: the API server does not take that patch type for them.
    const patchTypes = d.crd ? PATCH_TYPES.filter((t) => t !== 'application/strategic-merge-patch+json') : PATCH_TYPES;
    if (!patchTypes.includes(patchType)) throw unsupportedMediaType(patchType, patchTypes);
    if (patchType === 'application/apply-patch+yaml') return apply(d, route, raw, query, ctx, existing);
    if (query.get('force') !== null) {
      throw new KubeError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch', {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch', field: 'force' }],
      });
    }
    if (!existing) throw notFound(d, route.name!);
    let patch: unknown;
    try {
      patch = JSON.parse(raw);
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
    let patched: Obj;
    try {
      if (patchType === 'application/json-patch+json') patched = jsonPatch(existing, patch);
      else if (!isObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      else patched = patchType === 'application/merge-patch+json' ? mergePatch(existing, patch) : strategicMergePatch(existing, patch);
    } catch (err) {
      if (err instanceof JsonPatchError) {
        if (/cannot unmarshal/.test(err.message)) throw badRequest(err.message);
        throw new KubeError(422, 'Invalid', `the server rejected our request due to an error in our request: ${err.message}`, { causes: [{ message: err.message }] });
      }
      throw err;
    }
    if (!isObject(patched)) throw badRequest('the patch did not produce an object');
    patched = stripNulls(patched);
    if (patched.metadata?.name !== route.name) throw badRequest(`the name of the object (${patched.metadata?.name ?? ''}) does not match the name on the URL (${route.name})`);
    const rv = isObject(patch) && isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(d, route.name!);
    if (patched.metadata.uid !== existing.metadata.uid) throw conflict(d, route.name!, `Precondition failed: UID in precondition: ${patched.metadata.uid}, UID in object meta: ${existing.metadata.uid}`);
    return [200, updateObject(d, existing, patched, ctx, route.sub ? { sub: route.sub } : {})];
  }

  function apply(d: ResourceDef, route: Route, raw: string, query: URLSearchParams, ctx: WriteContext, existing: Obj | undefined): [number, unknown] {
    const manager = query.get('fieldManager');
    if (!manager) {
      throw new KubeError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
      });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(raw);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
    if (!isObject(parsed)) throw badRequest(`error decoding YAML: the applied configuration is not an object`);
    const config = stripNulls(parsed);
    checkIdentity(d, config, route, true);
    const force = query.get('force') === 'true';
    const apiVersion = apiVersionOf(d);
    if (route.sub === 'status') {
      if (!existing) throw notFound(d, route.name!);
      return [200, updateObject(d, existing, { ...clone(existing), status: config.status }, ctx, { sub: 'status' })];
    }
    if (!existing) {
      // Creating through apply needs the create permission too (in rbac mode checked where admission runs).
      if (!rbacMode && isForbidden('create', d.group, d.resource)) throw rbacRefusal({ ...route, verb: 'create' }, 'create');
      if (rbacMode && ctx.request) ctx.request.authorizeCreate = true;
      requireNamespace(d, route.namespace, route.name!);
      const { result, managed } = applyConfiguration({ existing: undefined, config, managed: [], manager, apiVersion, force, now: now(), lists: listTypes(d) });
      return [201, createObject(d, result, ctx, managed)];
    }
    let outcome: { result: Obj; managed: ManagedFieldsEntry[] };
    try {
      outcome = applyConfiguration({ existing: mainContent(existing), config, managed: existing.metadata.managedFields ?? [], manager, apiVersion, force, now: now(), lists: listTypes(d) });
    } catch (err) {
      if (err instanceof ApplyConflictError) throw applyConflict(err.conflicts);
      throw err;
    }
    return [200, updateObject(d, existing, outcome.result, ctx, { managed: outcome.managed })];
  }

  /** PUT namespaces/{name}/finalize: emptying spec.finalizers lets a terminating namespace go (the operator's escape hatch). */
  function finalizeNamespace(existing: Obj, body: Obj, ctx: WriteContext): Obj {
    const name = existing.metadata.name as string;
    const next = clone(existing);
    next.spec = { ...(next.spec ?? {}), finalizers: body.spec?.finalizers ?? [] };
    admit(NS, 'UPDATE', next, existing, ctx, 'finalize');
    if (next.spec.finalizers.length === 0 && next.metadata.deletionTimestamp !== undefined) {
      held.delete(name);
      emptied.delete(name);
      purgeNamespace(name);
      unstore(NS, undefined, name);
      return next;
    }
    return clone(persist(NS, next, 'MODIFIED'));
  }

  function deleteOne(d: ResourceDef, obj: Obj): Obj {
    controller.deleted(d, obj);
    return clone(unstore(d, obj.metadata.namespace, obj.metadata.name) ?? obj);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      const pathname = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      const contentType = req.headers['content-type'] ?? '';
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        if (res.headersSent) return;
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, {
          'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
          'cache-control': 'no-cache, private',
          'audit-id': randomUUID(),
          ...headers,
        });
        res.end(text);
      };
      const sendError = (err: unknown) => {
        const e = err instanceof KubeError ? err : new KubeError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`, { causes: [{ message: String((err as Error)?.message ?? err) }] });
        send(e.code, e.toStatus(), e.headers);
      };
      const authorized = req.headers.authorization === `Bearer ${token}`;

      if (isDiscoveryPath(pathname)) {
        discoveryRequests++;
        if (!authorized) return sendError(unauthorized());
        if (method !== 'GET') return sendError(methodNotAllowed());
        const doc = discoveryDocument(pathname, (server.address() as AddressInfo).port, served);
        return doc ? send(200, doc) : sendError(notFoundPath());
      }

      const route = parseRoute(pathname, method, url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1', served);
      const entry: RecordedKubeRequest | undefined = route?.verb
        ? {
            verb: route.verb,
            group: route.group,
            resource: route.sub ? `${route.resource}/${route.sub}` : route.resource,
            ...(route.namespace ? { namespace: route.namespace } : {}),
            ...(route.name ? { name: route.name } : {}),
            status: 0,
            ...(contentType ? { contentType } : {}),
            ...(url.searchParams.get('fieldManager') ? { fieldManager: url.searchParams.get('fieldManager')! } : {}),
            method,
            url: req.url ?? '/',
          }
        : undefined;
      if (entry) requests.push(entry);
      res.on('finish', () => {
        if (entry) entry.status = res.statusCode;
      });
      if (!authorized) return sendError(unauthorized());
      if (!route) return sendError(notFoundPath());
      const ctx: WriteContext = { manager: 'unknown', dryRun: false, warnings: [], request: { user: userInfo(), namespace: route.namespace, name: route.name } };
      try {
        if (entry) {
          const failure = failures.find(
            (f) =>
              f.count > 0 &&
              (f.match.verb === undefined || f.match.verb === entry.verb) &&
              (f.match.resource === undefined || f.match.resource === entry.resource || f.match.resource === route.resource) &&
              (f.match.namespace === undefined || f.match.namespace === entry.namespace) &&
              (f.match.name === undefined || f.match.name === entry.name) &&
              (f.match.group === undefined || f.match.group === entry.group),
          );
          if (failure) {
            failure.count--;
            throw scriptedFailure(failure.status);
          }
          if (rbacMode) {
            const attrs = requestAttributes(route, url.searchParams.get('fieldSelector'));
            const decision = authorizeRequest(attrs);
            if (!decision.allowed) throw rbacRefusal({ ...route, name: attrs.name }, entry.verb, decision.reason);
          } else if (route.def && isForbidden(entry.verb, route.group, entry.resource)) throw rbacRefusal(route, entry.verb);
        }
        const answer = serve(route, method, url.searchParams, raw, contentType, req.headers['user-agent'] ?? '', res, ctx);
        if (!answer && entry) entry.status = res.statusCode;
        if (answer) {
          const warnings = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
          send(answer[0], answer[1], warnings ? { warning: warnings } : {});
        }
      } catch (err) {
        sendError(err);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'fake', user: { token } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
    'current-context': 'fake',
    preferences: {},
  });

  const system: WriteContext = { manager: 'kube-apiserver', dryRun: false, warnings: [] };
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) createObject(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, system);
  if (rbacMode) for (const obj of bootstrapPolicy()) createObject(def(obj.apiVersion, obj.kind), obj, system);

  const kindOf = (apiVersion: string, kind: string) => {
    const d = findKind(apiVersion, kind, served);
    if (!d) throw new Error(`fake-kubernetes serves no ${apiVersion} ${kind}`);
    return d;
  };

  return {
    url,
    kubeconfig,
    writeKubeconfig(dir) {
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'kubeconfig');
      writeFileSync(file, kubeconfig, { mode: 0o600 });
      return file;
    },
    requests,
    rolloutsCompleted: controller.rolloutsCompleted,
    get discoveryRequests() {
      return discoveryRequests;
    },
    list(apiVersion, kind, namespace, labelSelector) {
      const d = kindOf(apiVersion, kind);
      const labels = parseLabelSelector(labelSelector);
      return all(d, d.namespaced ? namespace : undefined)
        .filter((o) => labels(o.metadata.labels))
        .map((o) => clone(o));
    },
    get(apiVersion, kind, namespace, name) {
      const o = stored(kindOf(apiVersion, kind), namespace, name);
      return o && clone(o);
    },
    seed(input) {
      const obj = stripNulls(clone(input)) as Obj;
      const d = kindOf(String(obj.apiVersion), String(obj.kind));
      obj.metadata = isObject(obj.metadata) ? obj.metadata : {};
      const ns = d.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
      const route: Route = { group: d.group, version: d.version, resource: d.resource, inNamespacePath: d.namespaced, ...(ns ? { namespace: ns } : {}) };
      checkIdentity(d, obj, route);
      const status = obj.status;
      const existing = stored(d, ns, obj.metadata.name ?? '');
      let result: Obj;
      if (existing) result = updateObject(d, existing, obj, { manager: 'kubectl-edit', dryRun: false, warnings: [] });
      else {
        requireNamespace(d, ns, obj.metadata.name ?? '');
        result = createObject(d, obj, { manager: 'kubectl-create', dryRun: false, warnings: [] }, undefined, status !== undefined);
      }
      if (status !== undefined && existing) result = internalUpdate(d, { ...result, status }, 'kubectl-edit', 'status');
      return result;
    },
    removeNamespaceNow(name) {
      held.delete(name);
      emptied.delete(name);
      purgeNamespace(name);
      unstore(NS, undefined, name);
    },
    expireWatches() {
      // Compacted past every resourceVersion handed out so far: each resume is refused.
      history.compact(++resourceVersion);
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
    holdTerminating(name) {
      held.add(name);
      return {
        release() {
          held.delete(name);
          if (emptied.has(name)) schedule(0, () => finishNamespace(name));
        },
      };
    },
    setRollout(fn) {
      rollout = fn;
    },
    setGatewayScript(fn) {
      gatewayScript = fn;
      controller.gatewayScriptChanged();
    },
    failNext(match, status, count = 1) {
      failures.push({ match, status, count });
    },
    forbid(verb, resource, group = '') {
      forbidden_.add(`${verb} ${group}/${resource}`);
    },
    allow(verb, resource, group = '') {
      forbidden_.delete(`${verb} ${group}/${resource}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const w of watchers) w.res.end();
        watchers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
