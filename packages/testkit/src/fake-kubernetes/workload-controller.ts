/**
 * What kube-controller-manager's workload controllers (Deployment, ReplicaSet, StatefulSet, Job) have in common:
 * a workqueue synced by key, informers that wake the workload controlling a changed dependent (its pods, a
 * Deployment's ReplicaSets), and, for those that own pods, the pods they find by owner reference and stop.
 */
import { DEF, SyncQueue, isOwnedBy, keyOf, type ClusterHost, type Clock } from './cluster-host.js';
import type { EventRecorder } from './event-recorder.js';
import type { Kubelet } from './kubelet.js';
import { clone, type Obj } from './merge.js';
import type { ResourceDef } from './resources.js';
import type { RolloutContext, RolloutScript } from './rollout-script.js';

/** The components a workload controller works with, as the control plane wires them. */
export interface WorkloadControllerDeps {
  host: ClusterHost;
  clock: Clock;
  events: EventRecorder;
  kubelet: Kubelet;
  /** The current rollout callback (setRollout may replace it). */
  rollout: () => (ctx: RolloutContext) => RolloutScript;
}

export abstract class WorkloadController {
  protected readonly queue: SyncQueue;
  protected readonly host: ClusterHost;
  protected readonly clock: Clock;
  protected readonly events: EventRecorder;
  protected readonly rollout: () => (ctx: RolloutContext) => RolloutScript;

  /** `kind`: the workload's kind, as its dependents' controller owner references name it. */
  constructor(
    deps: WorkloadControllerDeps,
    private readonly kind: string,
  ) {
    this.host = deps.host;
    this.clock = deps.clock;
    this.events = deps.events;
    this.rollout = deps.rollout;
    this.queue = new SyncQueue(this.host, (key) => this.sync(key));
  }

  protected abstract sync(key: string): void;

  /** A dependent changed (its status, or it went away): the workload controlling it syncs. */
  protected dependentChanged(dependent: Obj): void {
    const owner = (dependent.metadata.ownerReferences ?? []).find((r: Obj) => r.controller && r.kind === this.kind);
    if (owner) this.queue.add(`${dependent.metadata.namespace}/${owner.name}`, this.clock.delayMs);
  }

  /** The workload syncs after `afterMs` (the controller's reaction delay unless told). */
  enqueue(workload: Obj, afterMs = this.clock.delayMs): void {
    this.queue.add(keyOf(workload), afterMs);
  }

  /** The workload's dependents of kind `def`, found by controller owner reference. */
  protected owned(def: ResourceDef, workload: Obj): Obj[] {
    return this.host.list(def, workload.metadata.namespace).filter((o) => isOwnedBy(o, workload));
  }

  /** The rollout script's choice for this generation of the workload (`replicas`: its spec.replicas or parallelism). */
  protected script(workload: Obj, replicas: number): RolloutScript {
    const ctx: RolloutContext = {
      kind: this.kind as RolloutContext['kind'],
      namespace: workload.metadata.namespace,
      name: workload.metadata.name,
      images: (workload.spec.template?.spec?.containers ?? []).map((c: Obj) => c.image as string),
      generation: workload.metadata.generation,
      replicas,
      deployment: clone(workload),
    };
    return this.rollout()(ctx);
  }
}

/** A workload controller that creates pods: the kubelet runs them, and stops them when they are deleted. */
export abstract class PodOwnerController extends WorkloadController {
  protected readonly kubelet: Kubelet;

  constructor(deps: WorkloadControllerDeps, kind: string) {
    super(deps, kind);
    this.kubelet = deps.kubelet;
  }

  protected podsOf(workload: Obj): Obj[] {
    return this.owned(DEF.pod, workload);
  }

  /** A pod is deleted: its kubelet stops it first. */
  protected removePod(pod: Obj): void {
    this.kubelet.stop(pod);
    this.host.remove(DEF.pod, pod.metadata.namespace, pod.metadata.name);
  }

  /** The pod informer: a pod this workload controls changed. */
  podChanged(pod: Obj): void {
    this.dependentChanged(pod);
  }
}
