import { randomUUID } from 'node:crypto';
import { isObject, type Obj } from './merge.js';
import type { ResourceDef } from './resources.js';

/** Server-allocated values the defaulting needs: Service cluster IPs and node ports. */
export interface Allocator {
  clusterIP(): string;
  nodePort(): number;
}

/** `Always` for `:latest` or untagged images, as the API server defaults imagePullPolicy. */
function pullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function probeDefaults(probe: unknown): void {
  if (!isObject(probe)) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  if (isObject(probe.httpGet)) probe.httpGet.scheme ??= 'HTTP';
}

function containerDefaults(c: unknown): void {
  if (!isObject(c)) return;
  c.imagePullPolicy ??= pullPolicy(c.image);
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of Array.isArray(c.ports) ? c.ports : []) if (isObject(p)) p.protocol ??= 'TCP';
  for (const e of Array.isArray(c.env) ? c.env : []) {
    if (isObject(e) && isObject(e.valueFrom) && isObject(e.valueFrom.fieldRef)) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
  probeDefaults(c.livenessProbe);
  probeDefaults(c.readinessProbe);
  probeDefaults(c.startupProbe);
}

function podSpecDefaults(spec: unknown): void {
  if (!isObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) containerDefaults(c);
  for (const c of Array.isArray(spec.initContainers) ? spec.initContainers : []) containerDefaults(c);
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (isObject(v) && isObject(v.secret)) v.secret.defaultMode ??= 420;
    if (isObject(v) && isObject(v.configMap)) v.configMap.defaultMode ??= 420;
  }
}

/** What admission and the pod strategy add to a pod that the template does not say. */
export function podDefaults(pod: Obj): void {
  const spec = (pod.spec ??= {});
  podSpecDefaults(spec);
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  spec.priority ??= 0;
  spec.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
}

/** The pod's QoS class, from its containers' requests and limits. */
export function qosClass(spec: Obj | undefined): string {
  const containers: Obj[] = Array.isArray(spec?.containers) ? spec.containers : [];
  let anySet = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    if (Object.keys(requests).length + Object.keys(limits).length > 0) anySet = true;
    for (const r of ['cpu', 'memory']) {
      if (limits[r] === undefined || (requests[r] !== undefined && requests[r] !== limits[r])) guaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

type KindDefaults = (obj: Obj, spec: Obj | undefined, old: Obj | undefined, alloc: Allocator) => void;

/** Each kind's defaulting; `spec` is the object's spec when it is an object. */
const KIND_DEFAULTS: Record<string, KindDefaults> = {
  Namespace: (obj, _spec, old) => {
    // The API server labels every namespace with its name, so NetworkPolicies can select namespaces by it.
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
    obj.spec = old ? (old.spec ?? { finalizers: ['kubernetes'] }) : { finalizers: ['kubernetes'] };
  },
  Deployment: (_obj, spec) => {
    if (spec) deploymentDefaults(spec);
  },
  ReplicaSet: (_obj, spec) => {
    if (!spec) return;
    spec.replicas ??= 1;
    podSpecDefaults(spec.template?.spec);
  },
  Pod: (obj) => podDefaults(obj),
  StatefulSet: (_obj, spec) => {
    if (spec) statefulSetDefaults(spec);
  },
  Job: (obj, spec, old) => {
    if (spec) jobDefaults(obj, spec, old);
  },
  PersistentVolumeClaim: (_obj, spec) => {
    if (spec) spec.volumeMode ??= 'Filesystem';
  },
  StorageClass: (obj) => {
    obj.reclaimPolicy ??= 'Delete';
    obj.volumeBindingMode ??= 'Immediate';
  },
  Service: (_obj, spec, old, alloc) => {
    if (spec) serviceDefaults(spec, old, alloc);
  },
  Secret: (obj) => {
    obj.type ??= 'Opaque';
    // stringData is write-only: the API server folds it into data (base64) and never stores it.
    if (isObject(obj.stringData)) {
      obj.data = { ...(isObject(obj.data) ? obj.data : {}) };
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    }
    delete obj.stringData;
  },
  NetworkPolicy: (_obj, spec) => {
    if (!spec) return;
    spec.policyTypes ??= ['Ingress', ...(Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Egress'] : [])];
    for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) {
      for (const p of isObject(rule) && Array.isArray(rule.ports) ? rule.ports : []) if (isObject(p)) p.protocol ??= 'TCP';
    }
  },
  LimitRange: (_obj, spec) => {
    for (const l of Array.isArray(spec?.limits) ? spec.limits : []) {
      if (!isObject(l) || l.type !== 'Container') continue;
      if (l.default === undefined && isObject(l.max)) l.default = { ...l.max };
      if (l.defaultRequest === undefined && isObject(l.default)) l.defaultRequest = { ...l.default };
    }
  },
};

/**
 * Fills in what the API server defaults on every write of `obj` (create and update), keeping server-allocated
 * values (a Service's cluster IP) from `old`.
 */
export function applyDefaults(def: ResourceDef, obj: Obj, old: Obj | undefined, alloc: Allocator): void {
  const defaults = Object.prototype.hasOwnProperty.call(KIND_DEFAULTS, def.kind) ? KIND_DEFAULTS[def.kind] : undefined;
  defaults?.(obj, isObject(obj.spec) ? obj.spec : undefined, old, alloc);
}

function deploymentDefaults(spec: Obj): void {
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= { type: 'RollingUpdate' };
  if (isObject(spec.strategy) && (spec.strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
    spec.strategy.type ??= 'RollingUpdate';
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
    spec.strategy.rollingUpdate.maxSurge ??= '25%';
  }
  podSpecDefaults(spec.template?.spec);
}

/** Node ports and the cluster IP are kept from the stored Service, else allocated. */
function serviceDefaults(spec: Obj, old: Obj | undefined, alloc: Allocator): void {
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
    if (!isObject(p)) continue;
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
      const oldPort = (old?.spec?.ports ?? []).find((o: Obj) => o.port === p.port && o.protocol === p.protocol);
      p.nodePort ??= oldPort?.nodePort ?? alloc.nodePort();
    }
  }
  if (spec.type !== 'ExternalName') {
    spec.clusterIP ??= old?.spec?.clusterIP ?? alloc.clusterIP();
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    spec.internalTrafficPolicy ??= 'Cluster';
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
}

/** SetDefaults_StatefulSet, and the claim templates' own defaults. */
function statefulSetDefaults(spec: Obj): void {
  spec.replicas ??= 1;
  spec.podManagementPolicy ??= 'OrderedReady';
  spec.revisionHistoryLimit ??= 10;
  spec.updateStrategy ??= { type: 'RollingUpdate' };
  if (isObject(spec.updateStrategy) && (spec.updateStrategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
    spec.updateStrategy.type ??= 'RollingUpdate';
    spec.updateStrategy.rollingUpdate ??= {};
    spec.updateStrategy.rollingUpdate.partition ??= 0;
  }
  spec.persistentVolumeClaimRetentionPolicy ??= {};
  spec.persistentVolumeClaimRetentionPolicy.whenDeleted ??= 'Retain';
  spec.persistentVolumeClaimRetentionPolicy.whenScaled ??= 'Retain';
  for (const t of Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : []) {
    if (!isObject(t)) continue;
    t.apiVersion ??= 'v1';
    t.kind ??= 'PersistentVolumeClaim';
    if (isObject(t.spec)) t.spec.volumeMode ??= 'Filesystem';
    t.status ??= { phase: 'Pending' };
  }
  podSpecDefaults(spec.template?.spec);
}

/** The labels the Job strategy's generateSelector gives a Job's pod template, from the Job's uid. */
export function jobLabels(name: string, uid: string): Record<string, string> {
  return { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
}

/**
 * SetDefaults_Job and the Job strategy: unless spec.manualSelector, the selector is the Job's uid and the template
 * carries the matching labels (kept from the stored Job on updates, as the server never drops them).
 */
function jobDefaults(obj: Obj, spec: Obj, old: Obj | undefined): void {
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  if (spec.manualSelector !== true) {
    const uid = (old?.metadata?.uid ?? (obj.metadata.uid ??= randomUUID())) as string;
    const labels = jobLabels(obj.metadata.name, uid);
    spec.selector ??= old?.spec?.selector ?? { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    if (isObject(spec.template)) {
      spec.template.metadata = { ...(spec.template.metadata ?? {}) };
      spec.template.metadata.labels = { ...(spec.template.metadata.labels ?? {}), ...labels };
    }
  }
  podSpecDefaults(spec.template?.spec);
}

/** The status a new object starts with, where its status is the server's to write. */
export function initialStatus(def: ResourceDef, obj: Obj): Obj | undefined {
  switch (def.kind) {
    case 'Namespace':
      return { phase: 'Active' };
    case 'Pod':
      return { phase: 'Pending', qosClass: qosClass(obj.spec) };
    case 'Service':
    case 'Ingress':
      return { loadBalancer: {} };
    case 'Deployment':
    case 'ReplicaSet':
    case 'Job':
      return {};
    case 'StatefulSet':
      return { replicas: 0, availableReplicas: 0 };
    case 'PersistentVolumeClaim':
      return { phase: 'Pending' };
    default:
      return undefined;
  }
}
