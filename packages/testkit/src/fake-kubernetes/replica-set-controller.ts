/**
 * kube-controller-manager's ReplicaSet controller (pkg/controller/replicaset/replica_set.go, replica_set_utils.go):
 * creates pods up to spec.replicas through admission in slow-start batches (1, 2, 4, …; a batch with a failure ends
 * the round), deletes the most disposable pods beyond it (controller.ActivePods ranking), and writes status:
 * replicas, ready and available (ready for minReadySeconds) counts, and a ReplicaFailure condition while pods cannot
 * be created (FailedCreate events name each refusal). Refused creations are retried with the workqueue's
 * exponential back-off (5 ms doubling to 1000 s, on the scaled clock).
 */
import { applyLimitRanges, checkPodQuota, podSecurityMessage } from './admission.js';
import { CONTROLLER_MANAGER, DEF, isActivePod, now, podReady, replicasOf, splitKey } from './cluster-host.js';
import { qosClass } from './defaults.js';
import type { Obj } from './merge.js';
import { podPlan, type PodPlan } from './rollout-script.js';
import { PodOwnerController, type WorkloadControllerDeps } from './workload-controller.js';
import { podFromTemplate } from './workload-pods.js';

/** replica_set.go burstReplicas: at most this many pods created or deleted per sync. */
const BURST_REPLICAS = 500;

/** controller.ActivePods: the pods to delete first sort first (unscheduled, pending, unready, restarting, newest). */
function deletionOrder(readySince: (pod: Obj) => number | undefined) {
  const phaseRank = (p: Obj) => ({ Pending: 0, Unknown: 1, Running: 2 })[p.status?.phase as string] ?? 0;
  const restarts = (p: Obj) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((s: Obj) => s.restartCount ?? 0));
  return (a: Obj, b: Obj): number => {
    if (!a.spec.nodeName !== !b.spec.nodeName) return a.spec.nodeName ? 1 : -1;
    if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
    if (podReady(a) !== podReady(b)) return podReady(a) ? 1 : -1;
    if (podReady(a) && podReady(b) && readySince(a) !== readySince(b)) return (readySince(b) ?? 0) - (readySince(a) ?? 0);
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
    return String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp));
  };
}

export class ReplicaSetController extends PodOwnerController {
  private readonly plans = new Map<string, PodPlan>();
  private readonly failures = new Map<string, number>();
  /** Told when a ReplicaSet's spec or status changed (the Deployment controller's ReplicaSet informer). */
  replicaSetChanged: (rs: Obj) => void = () => {};

  constructor(deps: WorkloadControllerDeps) {
    super(deps, 'ReplicaSet');
  }

  /** The rollout script's plan for the pods this ReplicaSet creates from now on. */
  setPlan(rs: Obj, plan: PodPlan): void {
    this.plans.set(rs.metadata.uid, plan);
  }

  /** The garbage collector: a deleted ReplicaSet's pods go with it. */
  deleted(rs: Obj): void {
    for (const pod of this.podsOf(rs)) this.removePod(pod);
    this.plans.delete(rs.metadata.uid);
  }

  protected sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const rs = this.host.get(DEF.replicaSet, namespace, name);
    if (!rs || this.host.namespace(namespace)?.status?.phase !== 'Active') return;
    const manageError = this.manageReplicas(this.podsOf(rs).filter(isActivePod), rs);
    const pods = this.podsOf(rs).filter(isActivePod);
    const status = this.calculateStatus(rs, pods, manageError);
    const updated = this.host.update(DEF.replicaSet, { ...rs, status }, CONTROLLER_MANAGER, 'status');
    if (updated.metadata.resourceVersion !== rs.metadata.resourceVersion) this.replicaSetChanged(updated);
    if (manageError) {
      // The workqueue's rate limiter: 5 ms doubling per consecutive failure, at most 1000 s.
      const failures = (this.failures.get(rs.metadata.uid) ?? 0) + 1;
      this.failures.set(rs.metadata.uid, failures);
      this.enqueue(rs, Math.max(this.clock.delayMs, Math.min(0.005 * 2 ** (failures - 1), 1000) * this.clock.secondMs));
      return;
    }
    this.failures.delete(rs.metadata.uid);
    // Ready but not yet available pods are looked at again when minReadySeconds have passed.
    const minReadyMs = (rs.spec.minReadySeconds ?? 0) * this.clock.secondMs;
    const waiting = pods.filter(podReady).map((p) => this.readySince(p) + minReadyMs - Date.now()).filter((ms) => ms > 0);
    if (waiting.length > 0) this.enqueue(rs, Math.min(...waiting) + 1);
  }

  /** manageReplicas: create the missing pods (slow start), or delete the extra ones. The first creation error. */
  private manageReplicas(pods: Obj[], rs: Obj): string | undefined {
    const diff = pods.length - replicasOf(rs);
    if (diff > 0) {
      for (const pod of [...pods].sort(deletionOrder((p) => this.kubelet.readySince(p.metadata.uid))).slice(0, Math.min(diff, BURST_REPLICAS))) {
        this.removePod(pod);
        this.events.record(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`, 'replicaset-controller');
      }
      return undefined;
    }
    let remaining = Math.min(-diff, BURST_REPLICAS);
    let firstError: string | undefined;
    for (let batch = 1; remaining > 0 && !firstError; batch *= 2) {
      const size = Math.min(batch, remaining);
      remaining -= size;
      for (let i = 0; i < size; i++) firstError = this.createPod(rs) ?? firstError;
    }
    return firstError;
  }

  /** One pod from the template, through admission; the refusal's message when refused. */
  private createPod(rs: Obj): string | undefined {
    const plan = this.plans.get(rs.metadata.uid) ?? podPlan('success', Date.now(), this.clock.secondMs);
    const pod = podFromTemplate(rs, 'apps/v1', 'ReplicaSet');
    const refusal = this.admit(pod, rs.metadata.namespace, plan);
    if (refusal) {
      const error = `pods "${pod.metadata.name}" is forbidden: ${refusal}`;
      this.events.record(rs, 'Warning', 'FailedCreate', `Error creating: ${error}`, 'replicaset-controller');
      return error;
    }
    const created = this.host.create(DEF.pod, pod, CONTROLLER_MANAGER);
    this.events.record(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, 'replicaset-controller');
    this.kubelet.podCreated(created, plan);
    return undefined;
  }

  /** Admission as pod creation meets it; the 'FailedCreate' script stands for a quota already used up. */
  private admit(pod: Obj, ns: string, plan: PodPlan): string | undefined {
    const namespace = this.host.namespace(ns);
    if (!namespace || namespace.status?.phase === 'Terminating') return `unable to create new content in namespace ${ns} because it is being terminated`;
    const limited = applyLimitRanges(pod, this.host.admission.limitRanges(ns));
    if (limited) return limited;
    if (plan.quotaExceeded) {
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

  /** podutil.IsPodAvailable's clock: when the pod became ready (to the ms when the kubelet knows it). */
  private readySince(pod: Obj): number {
    const condition = (pod.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
    const parsed = Date.parse(condition?.lastTransitionTime ?? '');
    return this.kubelet.readySince(pod.metadata.uid) ?? (Number.isNaN(parsed) ? Date.now() : parsed);
  }

  /** replica_set_utils.go calculateStatus. */
  private calculateStatus(rs: Obj, pods: Obj[], manageError: string | undefined): Obj {
    const minReadyMs = (rs.spec.minReadySeconds ?? 0) * this.clock.secondMs;
    const templateLabels: Record<string, string> = rs.spec.template?.metadata?.labels ?? {};
    const ready = pods.filter(podReady);
    const status: Obj = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: ready.length,
      availableReplicas: ready.filter((p) => minReadyMs === 0 || this.readySince(p) + minReadyMs <= Date.now()).length,
      observedGeneration: rs.metadata.generation,
      conditions: rs.status?.conditions ?? [],
    };
    const failure = (status.conditions as Obj[]).find((c) => c.type === 'ReplicaFailure');
    if (manageError && !failure) {
      const reason = pods.length < replicasOf(rs) ? 'FailedCreate' : 'FailedDelete';
      status.conditions = [...status.conditions, { type: 'ReplicaFailure', status: 'True', lastTransitionTime: now(), reason, message: manageError }];
    } else if (!manageError && failure) {
      status.conditions = (status.conditions as Obj[]).filter((c) => c.type !== 'ReplicaFailure');
    }
    // Go's omitempty (replicas is always written).
    for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']) if (!status[k]) delete status[k];
    if (status.conditions.length === 0) delete status.conditions;
    return status;
  }
}
