/**
 * A scripted stand-in for kube-controller-manager's deployment and replica set controllers, the scheduler and the
 * kubelet: for each new generation of a Deployment it maintains a ReplicaSet and Pods, writes their status and the
 * Deployment's as those components would, and records the Events they would. What happens to the pods (running,
 * crash looping, failing to pull...) is the rollout script's choice; what admission refuses (quota, pod security,
 * a terminating namespace) and what the kubelet cannot start (a missing Secret key) happens whatever the script.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RolloutContext, RolloutScript } from '../fake-kubernetes.js';
import { applyLimitRanges, checkPodQuota, podSecurityMessage, type AdmissionView } from './admission.js';
import { podDefaults, qosClass } from './defaults.js';
import { clone, type Obj } from './merge.js';
import { randomSuffix, safeEncode } from './names.js';
import { findKind, type ResourceDef } from './resources.js';

/** What the controller needs of the fake API server: its store, written as the named component. */
export interface ClusterHost {
  get(def: ResourceDef, namespace: string | undefined, name: string): Obj | undefined;
  list(def: ResourceDef, namespace: string | undefined): Obj[];
  /** Stores a new object as `manager` would create it (uid, resourceVersion, timestamps, managedFields). */
  create(def: ResourceDef, obj: Obj, manager: string): Obj;
  /** Replaces the main resource (metadata, spec) or, with subresource 'status', only the status. */
  update(def: ResourceDef, obj: Obj, manager: string, subresource?: 'status'): Obj;
  remove(def: ResourceDef, namespace: string | undefined, name: string): void;
  namespace(name: string): Obj | undefined;
  admission: AdmissionView;
  /** A timer that never keeps the process alive and dies with the server. */
  schedule(ms: number, fn: () => void): void;
}

interface ControllerOptions {
  delayMs: number;
  crashLog: string;
  rollout: () => (ctx: RolloutContext) => RolloutScript;
}

const DEF = {
  deployment: findKind('apps/v1', 'Deployment')!,
  replicaSet: findKind('apps/v1', 'ReplicaSet')!,
  pod: findKind('v1', 'Pod')!,
  event: findKind('v1', 'Event')!,
  secret: findKind('v1', 'Secret')!,
  configMap: findKind('v1', 'ConfigMap')!,
};

const CONTROLLER_MANAGER = 'kube-controller-manager';
const NODES = ['fake-node-1', 'fake-node-2', 'fake-node-3'];
const SCHEDULING_FAILURE = '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';

export const DEFAULT_CRASH_LOG = [
  '> web@1.0.0 start',
  '> node dist/server.js',
  '',
  '{"level":"info","time":"2024-05-01T12:00:00.000Z","msg":"loading configuration"}',
  '{"level":"info","time":"2024-05-01T12:00:00.012Z","msg":"connecting to database at 10.96.0.15:5432"}',
  '{"level":"fatal","time":"2024-05-01T12:00:03.015Z","msg":"could not connect to the database, exiting"}',
  'Error: connect ECONNREFUSED 10.96.0.15:5432',
  '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)',
].join('\n');

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** `nginx:1.25` as the kubelet reports it: `docker.io/library/nginx:1.25`. */
function normalizeImage(image: string): string {
  const first = image.split('/')[0]!;
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? image : image.includes('/') ? `docker.io/${image}` : `docker.io/library/${image}`;
  const last = full.slice(full.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) full += ':latest';
  return full;
}

function intOrPercent(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.endsWith('%')) {
    const exact = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  return Number(value) || 0;
}

const isOwnedBy = (obj: Obj, owner: Obj) => (obj.metadata?.ownerReferences ?? []).some((r: Obj) => r.uid === owner.metadata.uid);
const podReady = (pod: Obj) => (pod.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
const revisionOf = (rs: Obj) => Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);

type ContainerPlan =
  | { state: 'creating' }
  | { state: 'running'; ready: boolean }
  | { state: 'waiting'; reason: string; message: string; restartCount?: number; terminated?: boolean };

export class DeploymentController {
  /** The script picked for each Deployment's current generation (by uid). */
  private readonly scripts = new Map<string, { generation: number; script: RolloutScript }>();
  private podIp = 10;

  constructor(
    private readonly host: ClusterHost,
    private readonly options: ControllerOptions,
  ) {}

  /** A Deployment was created or its spec changed: act on that generation after the controller's delay. */
  deploymentChanged(dep: Obj): void {
    const ref = { namespace: dep.metadata.namespace as string, name: dep.metadata.name as string, uid: dep.metadata.uid as string, generation: dep.metadata.generation as number };
    this.host.schedule(this.options.delayMs, () => this.rollOut(ref));
  }

  /** Garbage collection of a deleted Deployment's ReplicaSets and their Pods. */
  deploymentDeleted(dep: Obj): void {
    this.scripts.delete(dep.metadata.uid);
    for (const rs of this.host.list(DEF.replicaSet, dep.metadata.namespace).filter((r) => isOwnedBy(r, dep))) {
      this.replicaSetDeleted(rs);
      this.host.remove(DEF.replicaSet, rs.metadata.namespace, rs.metadata.name);
    }
  }

  replicaSetDeleted(rs: Obj): void {
    for (const pod of this.host.list(DEF.pod, rs.metadata.namespace).filter((p) => isOwnedBy(p, rs))) {
      this.host.remove(DEF.pod, pod.metadata.namespace, pod.metadata.name);
    }
  }

  private current(ref: { namespace: string; name: string; uid: string; generation: number }): Obj | undefined {
    const dep = this.host.get(DEF.deployment, ref.namespace, ref.name);
    if (!dep || dep.metadata.uid !== ref.uid || dep.metadata.generation !== ref.generation) return undefined;
    if (this.host.namespace(ref.namespace)?.status?.phase === 'Terminating') return undefined;
    return dep;
  }

  // ---- events ----------------------------------------------------------------------------------------------------

  /** Records an Event as the named component does, counting repeats of the same one instead of adding more. */
  event(involved: Obj, type: 'Normal' | 'Warning', reason: string, message: string, component: string, extra: { host?: string; fieldPath?: string; count?: number } = {}): void {
    const ns = involved.metadata.namespace as string;
    if (this.host.namespace(ns)?.status?.phase !== 'Active') return;
    const existing = this.host
      .list(DEF.event, ns)
      .find((e) => e.involvedObject?.uid === involved.metadata.uid && e.reason === reason && e.message === message && e.type === type);
    const at = now();
    if (existing) {
      this.host.update(DEF.event, { ...existing, count: (existing.count ?? 1) + (extra.count ?? 1), lastTimestamp: at }, component);
      return;
    }
    this.host.create(
      DEF.event,
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.metadata.name}.${hex(8)}`, namespace: ns },
        involvedObject: {
          kind: involved.kind,
          namespace: ns,
          name: involved.metadata.name,
          uid: involved.metadata.uid,
          apiVersion: involved.apiVersion,
          resourceVersion: involved.metadata.resourceVersion,
          ...(extra.fieldPath ? { fieldPath: extra.fieldPath } : {}),
        },
        reason,
        message,
        source: { component, ...(extra.host ? { host: extra.host } : {}) },
        firstTimestamp: at,
        lastTimestamp: at,
        count: extra.count ?? 1,
        type,
        eventTime: null,
        reportingComponent: component,
        reportingInstance: extra.host ?? '',
      },
      component,
    );
  }

  // ---- rollout ---------------------------------------------------------------------------------------------------

  private rollOut(ref: { namespace: string; name: string; uid: string; generation: number }): void {
    const dep = this.current(ref);
    if (!dep) return;
    const template = dep.spec.template ?? {};
    const ctx: RolloutContext = {
      namespace: ref.namespace,
      name: ref.name,
      images: (template.spec?.containers ?? []).map((c: Obj) => c.image as string),
      generation: ref.generation,
      deployment: clone(dep),
    };
    const script = this.options.rollout()(ctx);
    this.scripts.set(ref.uid, { generation: ref.generation, script });

    const replicas: number = dep.spec.replicas ?? 1;
    const hash = safeEncode(createHash('sha256').update(JSON.stringify(template)).digest());
    const rsName = `${ref.name}-${hash}`;
    const owned = this.host.list(DEF.replicaSet, ref.namespace).filter((r) => isOwnedBy(r, dep));
    const maxRevision = owned.reduce((n, r) => Math.max(n, revisionOf(r)), 0);
    let rs = owned.find((r) => r.metadata.name === rsName);
    const surge = intOrPercent(dep.spec.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas, true);
    const unavailable = intOrPercent(dep.spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%', replicas, false);
    const annotations = {
      'deployment.kubernetes.io/desired-replicas': String(replicas),
      'deployment.kubernetes.io/max-replicas': String(replicas + surge),
      'deployment.kubernetes.io/revision': String(rs && revisionOf(rs) === maxRevision ? maxRevision : maxRevision + 1),
    };
    const revised = this.host.update(
      DEF.deployment,
      { ...dep, metadata: { ...dep.metadata, annotations: { ...(dep.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': annotations['deployment.kubernetes.io/revision'] } } },
      CONTROLLER_MANAGER,
    );

    // Old ReplicaSets with nothing ready are scaled away at once, as the rolling update's cleanup does; while
    // old pods serve, the new ReplicaSet starts within maxSurge and the old ones keep replicas - maxUnavailable.
    const others = owned.filter((r) => r.metadata.name !== rsName);
    for (const old of others) {
      if ((old.spec.replicas ?? 0) > 0 && !this.podsOf(old).some(podReady)) this.scaleTo(revised, old, 0);
    }
    const oldReady = others.reduce((n, r) => n + this.podsOf(r).filter(podReady).length, 0);
    let target = replicas;
    if (oldReady > 0 && dep.spec.strategy?.type !== 'Recreate') {
      target = Math.max(rs?.spec?.replicas ?? 0, Math.min(replicas, Math.max(1, surge + unavailable)));
      let keep = Math.max(0, replicas - unavailable);
      for (const old of others.filter((r) => (r.spec.replicas ?? 0) > 0).sort((x, y) => revisionOf(y) - revisionOf(x))) {
        const n = Math.min(old.spec.replicas, keep);
        keep -= n;
        if (n < old.spec.replicas) this.scaleTo(revised, old, n);
      }
    } else if (dep.spec.strategy?.type === 'Recreate') {
      for (const old of others) if ((old.spec.replicas ?? 0) > 0) this.scaleTo(revised, old, 0);
    }

    const previousReplicas: number = rs?.spec?.replicas ?? 0;
    if (!rs) {
      const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      rs = this.host.create(
        DEF.replicaSet,
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: {
            name: rsName,
            namespace: ref.namespace,
            labels,
            annotations: { ...(dep.metadata.annotations ?? {}), ...annotations },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: ref.name, uid: ref.uid, controller: true, blockOwnerDeletion: true }],
          },
          spec: {
            replicas: target,
            ...(dep.spec.minReadySeconds ? { minReadySeconds: dep.spec.minReadySeconds } : {}),
            selector: { ...dep.spec.selector, matchLabels: { ...(dep.spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
            template: { ...clone(template), metadata: { ...clone(template.metadata ?? {}), labels } },
          },
        },
        CONTROLLER_MANAGER,
      );
    } else {
      rs = this.host.update(DEF.replicaSet, { ...rs, metadata: { ...rs.metadata, annotations: { ...rs.metadata.annotations, ...annotations } }, spec: { ...rs.spec, replicas: target } }, CONTROLLER_MANAGER);
    }
    if (target !== previousReplicas) {
      const verb = target > previousReplicas ? 'up' : 'down';
      this.event(revised, 'Normal', 'ScalingReplicaSet', `Scaled ${verb} replica set ${rsName} to ${target}${previousReplicas ? ` from ${previousReplicas}` : ''}`, 'deployment-controller');
    }

    this.syncPods(rs, target, script);
    const created = previousReplicas === 0 && target > 0;
    this.writeStatus(this.host.get(DEF.deployment, ref.namespace, ref.name)!, this.host.get(DEF.replicaSet, ref.namespace, rsName)!, {
      status: 'True',
      reason: created ? 'NewReplicaSetCreated' : 'ReplicaSetUpdated',
      message: created ? `Created new replica set "${rsName}"` : `ReplicaSet "${rsName}" is progressing.`,
    });
    this.host.schedule(this.options.delayMs, () => this.settle(ref, rsName));
  }

  private podsOf(rs: Obj): Obj[] {
    return this.host.list(DEF.pod, rs.metadata.namespace).filter((p) => isOwnedBy(p, rs));
  }

  private scaleTo(dep: Obj, rs: Obj, replicas: number): void {
    const from = rs.spec.replicas ?? 0;
    const updated = this.host.update(DEF.replicaSet, { ...rs, spec: { ...rs.spec, replicas } }, CONTROLLER_MANAGER);
    for (const pod of this.podsOf(rs).slice(replicas)) {
      this.host.remove(DEF.pod, pod.metadata.namespace, pod.metadata.name);
      this.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`, 'replicaset-controller');
    }
    this.writeReplicaSetStatus(updated);
    if (from !== replicas) this.event(dep, 'Normal', 'ScalingReplicaSet', `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} to ${replicas} from ${from}`, 'deployment-controller');
  }

  /** The ReplicaSet controller's half: create or delete pods until the ReplicaSet has `replicas`, through admission. */
  private syncPods(rs: Obj, replicas: number, script: RolloutScript): void {
    const ns = rs.metadata.namespace as string;
    let pods = this.podsOf(rs);
    for (const extra of pods.slice(replicas)) {
      this.host.remove(DEF.pod, ns, extra.metadata.name);
      this.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${extra.metadata.name}`, 'replicaset-controller');
    }
    pods = pods.slice(0, replicas);
    let failure: string | undefined;
    for (let i = pods.length; i < replicas; i++) {
      const pod = this.newPod(rs);
      failure = this.admit(pod, ns, script);
      if (failure) {
        this.event(rs, 'Warning', 'FailedCreate', `Error creating: pods "${pod.metadata.name}" is forbidden: ${failure}`, 'replicaset-controller');
        break;
      }
      const created = this.host.create(DEF.pod, pod, CONTROLLER_MANAGER);
      this.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, 'replicaset-controller');
      this.schedulePod(created, script);
    }
    const current = this.host.get(DEF.replicaSet, ns, rs.metadata.name);
    if (current) this.writeReplicaSetStatus(current, failure ? `pods "${rs.metadata.name}-${randomSuffix()}" is forbidden: ${failure}` : undefined);
  }

  private newPod(rs: Obj): Obj {
    const template = rs.spec.template ?? {};
    const pod: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${rs.metadata.name}-${randomSuffix()}`,
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...(template.metadata?.labels ?? {}) },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: clone(template.spec ?? {}),
    };
    podDefaults(pod);
    return pod;
  }

  /** Admission as pod creation meets it; the 'FailedCreate' script stands for a quota already used up. */
  private admit(pod: Obj, ns: string, script: RolloutScript): string | undefined {
    const namespace = this.host.namespace(ns);
    if (!namespace || namespace.status?.phase === 'Terminating') return `unable to create new content in namespace ${ns} because it is being terminated`;
    const limited = applyLimitRanges(pod, this.host.admission.limitRanges(ns));
    if (limited) return limited;
    if (script === 'FailedCreate') {
      const quota = this.host.admission.quotas(ns)[0];
      const hard: Record<string, string> = quota?.spec?.hard ?? { 'requests.cpu': '1' };
      const resource = Object.keys(hard).find((r) => r.includes('cpu')) ?? Object.keys(hard)[0] ?? 'pods';
      const requested = resource === 'pods' ? '1' : (pod.spec.containers?.[0]?.resources?.requests?.cpu ?? '500m');
      return `exceeded quota: ${quota?.metadata?.name ?? 'compute-resources'}, requested: ${resource}=${requested}, used: ${resource}=${hard[resource]}, limited: ${resource}=${hard[resource]}`;
    }
    const quota = checkPodQuota(pod, ns, this.host.admission);
    if (quota) return quota;
    pod.status = { phase: 'Pending', qosClass: qosClass(pod.spec) };
    return podSecurityMessage(pod.spec, namespace);
  }

  // ---- pods ------------------------------------------------------------------------------------------------------

  /** The scheduler's and kubelet's first moves: bind the pod (or fail to), start pulling images. */
  private schedulePod(pod: Obj, script: RolloutScript): void {
    if (script === 'FailedScheduling') {
      this.writePodStatus(pod, undefined, []);
      this.event(pod, 'Warning', 'FailedScheduling', SCHEDULING_FAILURE, 'default-scheduler');
      return;
    }
    const node = NODES[Math.floor(Math.random() * NODES.length)]!;
    const bound = this.host.update(DEF.pod, { ...pod, spec: { ...pod.spec, nodeName: node } }, CONTROLLER_MANAGER);
    this.event(bound, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`, 'default-scheduler');
    const missingPullSecrets = (bound.spec.imagePullSecrets ?? [])
      .map((s: Obj) => s.name as string)
      .filter((name: string) => !this.host.get(DEF.secret, pod.metadata.namespace, name));
    if (missingPullSecrets.length > 0) {
      this.event(bound, 'Warning', 'FailedToRetrieveImagePullSecret', `Unable to retrieve some image pull secrets (${missingPullSecrets.join(', ')}); attempting to pull the image may not succeed.`, 'kubelet', { host: node });
    }
    this.writePodStatus(bound, node, (bound.spec.containers ?? []).map(() => ({ state: 'creating' }) as ContainerPlan));
    for (const c of bound.spec.containers ?? []) {
      this.event(bound, 'Normal', 'Pulling', `Pulling image "${c.image}"`, 'kubelet', { host: node, fieldPath: `spec.containers{${c.name}}` });
    }
  }

  /** What the kubelet cannot get past whatever the script says: a referenced Secret or ConfigMap (key) missing. */
  private configError(pod: Obj, container: Obj): string | undefined {
    const ns = pod.metadata.namespace as string;
    for (const env of container.env ?? []) {
      for (const [refKind, def, label] of [['secretKeyRef', DEF.secret, 'Secret'], ['configMapKeyRef', DEF.configMap, 'ConfigMap']] as const) {
        const ref = env.valueFrom?.[refKind];
        if (!ref || ref.optional) continue;
        const obj = this.host.get(def, ns, ref.name);
        if (!obj) return `${label.toLowerCase()} "${ref.name}" not found`;
        const data = { ...(obj.data ?? {}), ...(obj.binaryData ?? {}) };
        if (!(ref.key in data)) return `couldn't find key ${ref.key} in ${label} ${ns}/${ref.name}`;
      }
    }
    for (const from of container.envFrom ?? []) {
      for (const [refKind, def, label] of [['secretRef', DEF.secret, 'secret'], ['configMapRef', DEF.configMap, 'configmap']] as const) {
        const ref = from[refKind];
        if (ref && !ref.optional && !this.host.get(def, ns, ref.name)) return `${label} "${ref.name}" not found`;
      }
    }
    return undefined;
  }

  /** The index of the container a failure script hits: the one with a config reference, else the first. */
  private failingContainer(pod: Obj): number {
    const i = (pod.spec.containers ?? []).findIndex((c: Obj) => (c.env ?? []).some((e: Obj) => e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef));
    return i >= 0 ? i : 0;
  }

  /** The kubelet's verdict on one pod once images are pulled (or not), per the script. */
  private settlePod(pod: Obj, script: RolloutScript): void {
    if (!pod.spec.nodeName) {
      this.event(pod, 'Warning', 'FailedScheduling', SCHEDULING_FAILURE, 'default-scheduler');
      return;
    }
    const node = pod.spec.nodeName as string;
    const containers: Obj[] = pod.spec.containers ?? [];
    const on = (c: Obj) => ({ host: node, fieldPath: `spec.containers{${c.name}}` });
    const failing = this.failingContainer(pod);
    const plans: ContainerPlan[] = containers.map((c, i) => {
      const image = c.image as string;
      const configError = this.configError(pod, c);
      if (configError && script !== 'pending' && script !== 'ErrImagePull' && script !== 'ImagePullBackOff') {
        this.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, 'kubelet', on(c));
        this.event(pod, 'Warning', 'Failed', `Error: ${configError}`, 'kubelet', on(c));
        return { state: 'waiting', reason: 'CreateContainerConfigError', message: configError };
      }
      if (i !== failing || script === 'success') return this.started(pod, c, true);
      switch (script) {
        case 'pending':
          return { state: 'creating' };
        case 'ErrImagePull':
        case 'ImagePullBackOff': {
          const ref = normalizeImage(image);
          const pullError = `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
          this.event(pod, 'Warning', 'Failed', `Failed to pull image "${image}": rpc error: code = NotFound desc = ${pullError}`, 'kubelet', on(c));
          this.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull', 'kubelet', on(c));
          if (script === 'ErrImagePull') {
            return { state: 'waiting', reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = ${pullError}` };
          }
          this.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`, 'kubelet', on(c));
          this.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff', 'kubelet', on(c));
          return { state: 'waiting', reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
        }
        case 'CreateContainerConfigError': {
          const ref = (c.env ?? []).map((e: Obj) => e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef).find(Boolean);
          const message = ref
            ? `couldn't find key ${ref.key} in ${(c.env ?? []).some((e: Obj) => e.valueFrom?.secretKeyRef === ref) ? 'Secret' : 'ConfigMap'} ${pod.metadata.namespace}/${ref.name}`
            : `secret "${pod.metadata.name.split('-')[0]}-config" not found`;
          this.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, 'kubelet', on(c));
          this.event(pod, 'Warning', 'Failed', `Error: ${message}`, 'kubelet', on(c));
          return { state: 'waiting', reason: 'CreateContainerConfigError', message };
        }
        case 'CrashLoopBackOff': {
          this.started(pod, c, false, 3);
          this.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`, 'kubelet', { ...on(c), count: 2 });
          return {
            state: 'waiting',
            reason: 'CrashLoopBackOff',
            message: `back-off 20s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
            restartCount: 2,
            terminated: true,
          };
        }
        case 'ProgressDeadlineExceeded': {
          this.started(pod, c, false);
          const port = c.ports?.[0]?.containerPort ?? 8080;
          const path = c.readinessProbe?.httpGet?.path ?? '/';
          this.event(pod, 'Warning', 'Unhealthy', `Readiness probe failed: Get "http://${pod.status?.podIP ?? '10.244.0.10'}:${port}${path}": dial tcp ${pod.status?.podIP ?? '10.244.0.10'}:${port}: connect: connection refused`, 'kubelet', { ...on(c), count: 3 });
          return { state: 'running', ready: false };
        }
        default:
          return this.started(pod, c, true);
      }
    });
    this.writePodStatus(pod, node, plans);
  }

  /** Pulled, Created, Started: a container the kubelet got running. */
  private started(pod: Obj, c: Obj, ready: boolean, times = 1): ContainerPlan {
    const node = pod.spec.nodeName as string;
    const on = { host: node, fieldPath: `spec.containers{${c.name}}` };
    this.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${c.image}" in 1.204s (1.204s including waiting). Image size: 52428800 bytes.`, 'kubelet', on);
    this.event(pod, 'Normal', 'Created', `Created container: ${c.name}`, 'kubelet', { ...on, count: times });
    this.event(pod, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet', { ...on, count: times });
    return { state: 'running', ready };
  }

  /** The pod's status as the scheduler and kubelet write it; no node means unschedulable. */
  private writePodStatus(pod: Obj, node: string | undefined, plans: ContainerPlan[]): void {
    const current = this.host.get(DEF.pod, pod.metadata.namespace, pod.metadata.name);
    if (!current) return;
    const at = now();
    const previous: Obj = current.status ?? {};
    const condition = (type: string, ok: boolean, reason?: string, message?: string) => {
      const before = (previous.conditions ?? []).find((c: Obj) => c.type === type);
      const status = ok ? 'True' : 'False';
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: before && before.status === status ? before.lastTransitionTime : at,
        ...(reason ? { reason } : {}),
        ...(message ? { message } : {}),
      };
    };
    let status: Obj;
    if (!node) {
      status = {
        phase: 'Pending',
        conditions: [condition('PodScheduled', false, 'Unschedulable', SCHEDULING_FAILURE)],
        qosClass: qosClass(current.spec),
      };
    } else {
      const containers: Obj[] = current.spec.containers ?? [];
      const ip = previous.podIP ?? `10.244.${1 + NODES.indexOf(node)}.${this.podIp++ % 250}`;
      const hostIP = `172.18.0.${2 + NODES.indexOf(node)}`;
      const statuses = containers.map((c, i) => {
        const plan = plans[i] ?? { state: 'creating' };
        const image = normalizeImage(c.image);
        const imageID = `${image.replace(/:[^:/@]+$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}`;
        const before = (previous.containerStatuses ?? []).find((s: Obj) => s.name === c.name);
        const containerID = before?.containerID ?? `containerd://${hex(32)}`;
        const base = { name: c.name, image, imageID: plan.state === 'creating' || (plan.state === 'waiting' && /Pull/.test(plan.reason)) ? '' : imageID };
        if (plan.state === 'creating') {
          return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {}, ready: false, restartCount: 0, started: false };
        }
        if (plan.state === 'running') {
          return {
            ...base,
            containerID,
            state: { running: { startedAt: before?.state?.running?.startedAt ?? at } },
            lastState: {},
            ready: plan.ready,
            restartCount: 0,
            started: true,
          };
        }
        return {
          ...base,
          ...(plan.terminated ? { containerID } : {}),
          state: { waiting: { reason: plan.reason, message: plan.message } },
          lastState: plan.terminated ? { terminated: { exitCode: 1, reason: 'Error', startedAt: at, finishedAt: at, containerID } } : {},
          ready: false,
          restartCount: plan.restartCount ?? 0,
          started: false,
        };
      });
      const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
      const allReady = unready.length === 0;
      const started = plans.some((p) => p.state === 'running' || (p.state === 'waiting' && p.terminated));
      const readyMessage = `containers with unready status: [${unready.join(' ')}]`;
      status = {
        phase: started ? 'Running' : 'Pending',
        conditions: [
          condition('PodReadyToStartContainers', true),
          condition('Initialized', true),
          allReady ? condition('Ready', true) : condition('Ready', false, 'ContainersNotReady', readyMessage),
          allReady ? condition('ContainersReady', true) : condition('ContainersReady', false, 'ContainersNotReady', readyMessage),
          condition('PodScheduled', true),
        ],
        hostIP,
        hostIPs: [{ ip: hostIP }],
        podIP: ip,
        podIPs: [{ ip }],
        startTime: previous.startTime ?? at,
        containerStatuses: statuses,
        qosClass: qosClass(current.spec),
      };
    }
    this.host.update(DEF.pod, { ...current, status }, 'kubelet', 'status');
  }

  /** Pulls are done: each pod of the new ReplicaSet reaches its scripted state, and a good rollout retires the old. */
  private settle(ref: { namespace: string; name: string; uid: string; generation: number }, rsName: string): void {
    const dep = this.current(ref);
    const rs = this.host.get(DEF.replicaSet, ref.namespace, rsName);
    if (!dep || !rs) return;
    const script = this.scripts.get(ref.uid)?.script ?? 'success';
    for (const pod of this.podsOf(rs)) this.settlePod(pod, script);
    const desired: number = dep.spec.replicas ?? 1;
    if (script === 'success' && (rs.spec.replicas ?? 0) < desired && this.podsOf(rs).every(podReady)) {
      // The surged pods are ready: the rolling update goes on to the full count (compressed into one step).
      const scaled = this.host.update(DEF.replicaSet, { ...rs, spec: { ...rs.spec, replicas: desired } }, CONTROLLER_MANAGER);
      this.event(dep, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${rsName} to ${desired} from ${rs.spec.replicas ?? 0}`, 'deployment-controller');
      this.syncPods(scaled, desired, script);
      for (const pod of this.podsOf(scaled)) if (!podReady(pod) && pod.spec.nodeName) this.settlePod(pod, script);
    }
    this.writeReplicaSetStatus(this.host.get(DEF.replicaSet, ref.namespace, rsName)!);
    const pods = this.podsOf(rs);
    const complete = pods.length === desired && pods.every(podReady);
    if (complete) {
      for (const old of this.host.list(DEF.replicaSet, ref.namespace).filter((r) => isOwnedBy(r, dep) && r.metadata.name !== rsName)) {
        if ((old.spec.replicas ?? 0) > 0 || this.podsOf(old).length > 0) this.scaleTo(dep, old, 0);
      }
      this.pruneHistory(dep, rsName);
    }
    const current = this.host.get(DEF.deployment, ref.namespace, ref.name)!;
    this.writeStatus(
      current,
      this.host.get(DEF.replicaSet, ref.namespace, rsName)!,
      complete
        ? { status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }
        : { status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` },
    );
    if (!complete && script !== 'pending') {
      // The scripted deadline is not waited out: it is reported shortly after settling. Other failures reach it
      // as they would for real, once progressDeadlineSeconds have passed.
      const after = script === 'ProgressDeadlineExceeded' ? this.options.delayMs * 2 : (dep.spec.progressDeadlineSeconds ?? 600) * 1000;
      this.host.schedule(after, () => {
        const again = this.current(ref);
        const set = this.host.get(DEF.replicaSet, ref.namespace, rsName);
        if (!again || !set) return;
        const pods = this.podsOf(set);
        if (pods.length === (again.spec.replicas ?? 1) && pods.every(podReady)) return;
        this.writeStatus(again, set, { status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` });
      });
    }
  }

  /** Old ReplicaSets beyond revisionHistoryLimit are deleted. */
  private pruneHistory(dep: Obj, keep: string): void {
    const limit: number = dep.spec.revisionHistoryLimit ?? 10;
    const old = this.host
      .list(DEF.replicaSet, dep.metadata.namespace)
      .filter((r) => isOwnedBy(r, dep) && r.metadata.name !== keep && (r.spec.replicas ?? 0) === 0)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of old.slice(0, Math.max(0, old.length - limit))) this.host.remove(DEF.replicaSet, rs.metadata.namespace, rs.metadata.name);
  }

  private writeReplicaSetStatus(rs: Obj, failure?: string): void {
    const pods = this.podsOf(rs);
    const ready = pods.filter(podReady).length;
    const previous = (rs.status?.conditions ?? []).find((c: Obj) => c.type === 'ReplicaFailure');
    const status: Obj = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation,
      ...(failure
        ? { conditions: [{ type: 'ReplicaFailure', status: 'True', lastTransitionTime: previous?.lastTransitionTime ?? now(), reason: 'FailedCreate', message: failure }] }
        : {}),
    };
    if (status.readyReplicas === 0) delete status.readyReplicas;
    if (status.availableReplicas === 0) delete status.availableReplicas;
    this.host.update(DEF.replicaSet, { ...rs, status }, CONTROLLER_MANAGER, 'status');
  }

  /** The Deployment's status from its ReplicaSets' pods, with Available and Progressing as the controller sets them. */
  private writeStatus(dep: Obj, newRS: Obj, progressing: { status: string; reason: string; message: string }): void {
    const owned = this.host.list(DEF.replicaSet, dep.metadata.namespace).filter((r) => isOwnedBy(r, dep));
    const pods = owned.flatMap((r) => this.podsOf(r));
    const desired: number = dep.spec.replicas ?? 1;
    const available = pods.filter(podReady).length;
    const total = owned.reduce((n, r) => n + (r.spec.replicas ?? 0), 0);
    const maxUnavailable = intOrPercent(dep.spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%', desired, false);
    const at = now();
    const previous: Obj[] = dep.status?.conditions ?? [];
    const condition = (type: string, status: string, reason: string, message: string) => {
      const before = previous.find((c) => c.type === type);
      const same = before && before.status === status && before.reason === reason;
      return { type, status, lastUpdateTime: same ? before.lastUpdateTime : at, lastTransitionTime: before && before.status === status ? before.lastTransitionTime : at, reason, message };
    };
    const availableCondition =
      available >= desired - maxUnavailable
        ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
        : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.');
    const failure = (newRS.status?.conditions ?? []).find((c: Obj) => c.type === 'ReplicaFailure' && c.status === 'True');
    const status: Obj = {
      observedGeneration: dep.metadata.generation,
      replicas: pods.length,
      updatedReplicas: this.podsOf(newRS).length,
      readyReplicas: available,
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: [
        availableCondition,
        condition('Progressing', progressing.status, progressing.reason, progressing.message),
        ...(failure ? [condition('ReplicaFailure', 'True', 'FailedCreate', failure.message)] : []),
      ],
    };
    // The controller omits zero counts, as Go's omitempty does.
    for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) if (status[k] === 0) delete status[k];
    this.host.update(DEF.deployment, { ...dep, status }, CONTROLLER_MANAGER, 'status');
  }

  // ---- logs ------------------------------------------------------------------------------------------------------

  /** The log text of one container, or the reason the kubelet has none (a 400 message). */
  logs(pod: Obj, containerName: string, previous: boolean): { text: string } | { error: string } {
    if (!pod.spec?.nodeName) return { text: '' };
    const status = (pod.status?.containerStatuses ?? []).find((s: Obj) => s.name === containerName);
    const waiting = status?.state?.waiting;
    const subject = `container "${containerName}" in pod "${pod.metadata.name}"`;
    if (status?.state?.waiting?.reason === 'CrashLoopBackOff' || (previous && status?.lastState?.terminated)) {
      return { text: this.options.crashLog.endsWith('\n') ? this.options.crashLog : `${this.options.crashLog}\n` };
    }
    if (previous) return { error: `previous terminated ${subject} not found` };
    if (!status || waiting) {
      const reason = waiting?.reason ?? 'ContainerCreating';
      if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') return { error: `${subject} is waiting to start: trying and failing to pull image` };
      if (reason === 'CreateContainerConfigError') return { error: `${subject} is waiting to start: CreateContainerConfigError` };
      return { error: `${subject} is waiting to start: ${reason}` };
    }
    const container = (pod.spec.containers ?? []).find((c: Obj) => c.name === containerName) ?? {};
    const port = container.ports?.[0]?.containerPort ?? 8080;
    const started = status.state?.running?.startedAt ?? now();
    const lines = [
      `${started.replace('Z', '.021Z')} INFO starting ${containerName} (image ${container.image})`,
      `${started.replace('Z', '.187Z')} INFO configuration loaded from environment`,
      `${started.replace('Z', '.342Z')} INFO listening on 0.0.0.0:${port}`,
    ];
    if (!status.ready) lines.push(`${started.replace('Z', '.958Z')} WARN still warming up; answering 503 to readiness checks`);
    return { text: `${lines.join('\n')}\n` };
  }
}
