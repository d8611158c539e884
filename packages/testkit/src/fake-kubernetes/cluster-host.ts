/**
 * What the scripted control plane (controllers, scheduler, kubelet) needs of the fake API server, and the pieces
 * they share: the kinds they write, the clock they run on, and a workqueue-like sync queue.
 */
import type { AdmissionView } from './admission.js';
import type { Obj } from './merge.js';
import { findKind, type ResourceDef } from './resources.js';

/** What the control plane needs of the fake API server: its store, written as the named component. */
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

/**
 * The control plane's clock. `secondMs` real milliseconds make one Kubernetes second: every duration the API
 * states in seconds (progressDeadlineSeconds, minReadySeconds, probe periods) and the kubelet's back-offs run on it.
 * `delayMs` is how long a component takes to react to a change (an informer event, a PLEG relist), in real ms.
 */
export interface Clock {
  secondMs: number;
  delayMs: number;
}

export const DEF = {
  deployment: findKind('apps/v1', 'Deployment')!,
  replicaSet: findKind('apps/v1', 'ReplicaSet')!,
  pod: findKind('v1', 'Pod')!,
  event: findKind('v1', 'Event')!,
  secret: findKind('v1', 'Secret')!,
  configMap: findKind('v1', 'ConfigMap')!,
  statefulSet: findKind('apps/v1', 'StatefulSet')!,
  controllerRevision: findKind('apps/v1', 'ControllerRevision')!,
  job: findKind('batch/v1', 'Job')!,
  pvc: findKind('v1', 'PersistentVolumeClaim')!,
  storageClass: findKind('storage.k8s.io/v1', 'StorageClass')!,
  namespace: findKind('v1', 'Namespace')!,
  serviceAccount: findKind('v1', 'ServiceAccount')!,
  resourceQuota: findKind('v1', 'ResourceQuota')!,
};

export const CONTROLLER_MANAGER = 'kube-controller-manager';

/** RFC 3339 to the second, as metav1.Time is written. */
export const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export const isOwnedBy = (obj: Obj, owner: Obj) => (obj.metadata?.ownerReferences ?? []).some((r: Obj) => r.uid === owner.metadata.uid && r.controller);
/** podutil.IsPodReady: the Ready condition is True. */
export const podReady = (pod: Obj) => (pod.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
export const revisionOf = (rs: Obj) => Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
export const replicasOf = (obj: Obj | undefined): number => (obj?.spec?.replicas as number | undefined) ?? 0;
/** controller.FilterActivePods: not being deleted, not Succeeded or Failed. */
export const isActivePod = (pod: Obj) => !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

/**
 * A controller's workqueue, reduced to what the fake needs: a key queued several times is synced once, at the
 * earliest time asked (AddAfter keeps the earliest), and a sync never runs for a key twice at once.
 */
export class SyncQueue {
  private readonly due = new Map<string, number>();

  constructor(
    private readonly host: ClusterHost,
    private readonly run: (key: string) => void,
  ) {}

  add(key: string, afterMs: number): void {
    const at = Date.now() + Math.max(0, afterMs);
    const queued = this.due.get(key);
    if (queued !== undefined && queued <= at) return;
    this.due.set(key, at);
    this.host.schedule(Math.max(0, afterMs), () => {
      if (this.due.get(key) !== at) return;
      this.due.delete(key);
      this.run(key);
    });
  }
}

export const keyOf = (obj: Obj) => `${obj.metadata.namespace}/${obj.metadata.name}`;
export const splitKey = (key: string) => {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
};
