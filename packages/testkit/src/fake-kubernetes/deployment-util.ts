/**
 * The Deployment controller's arithmetic, function for function from kubernetes/kubernetes
 * pkg/controller/deployment/util/deployment_util.go (and intstr.GetScaledValueFromIntOrPercent). Durations are in
 * Kubernetes seconds, run on the scaled clock.
 */
import { now, replicasOf } from './cluster-host.js';
import type { Obj } from './merge.js';

/** DeploymentSpec.progressDeadlineSeconds of math.MaxInt32 means "no deadline" (HasProgressDeadline). */
const MAX_INT32 = 2147483647;

/** intstr.GetScaledValueFromIntOrPercent: an int as is, "n%" of `total` rounded up (maxSurge) or down (maxUnavailable). */
export function valueFromIntOrPercent(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.endsWith('%')) {
    const exact = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  return Number(value) || 0;
}

export const isRollingUpdate = (d: Obj) => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/**
 * ResolveFenceposts: maxSurge rounds up, maxUnavailable rounds down, and when both come to 0 maxUnavailable becomes 1
 * ("on the theory that surge might not work due to quota"). Absent values count as 0 (intstr.ValueOrDefault).
 */
export function resolveFenceposts(maxSurge: unknown, maxUnavailable: unknown, desired: number): { surge: number; unavailable: number } {
  const surge = valueFromIntOrPercent(maxSurge ?? 0, desired, true);
  const unavailable = valueFromIntOrPercent(maxUnavailable ?? 0, desired, false);
  return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable };
}

/** MaxUnavailable: 0 for Recreate or no replicas; never more than spec.replicas. */
export function maxUnavailable(d: Obj): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const rolling = d.spec.strategy?.rollingUpdate ?? {};
  return Math.min(resolveFenceposts(rolling.maxSurge, rolling.maxUnavailable, replicas).unavailable, replicas);
}

/** MaxSurge: 0 for Recreate. */
export function maxSurge(d: Obj): number {
  if (!isRollingUpdate(d)) return 0;
  const rolling = d.spec.strategy?.rollingUpdate ?? {};
  return resolveFenceposts(rolling.maxSurge, rolling.maxUnavailable, replicasOf(d)).surge;
}

/** GetReplicaCountForReplicaSets: the sum of spec.replicas. */
export const replicaCount = (sets: Obj[]) => sets.reduce((n, rs) => n + replicasOf(rs), 0);
/** GetActualReplicaCountForReplicaSets: the sum of status.replicas. */
export const actualReplicaCount = (sets: Obj[]) => sets.reduce((n, rs) => n + ((rs.status?.replicas as number) ?? 0), 0);
/** GetReadyReplicaCountForReplicaSets. */
export const readyReplicaCount = (sets: Obj[]) => sets.reduce((n, rs) => n + ((rs.status?.readyReplicas as number) ?? 0), 0);
/** GetAvailableReplicaCountForReplicaSets. */
export const availableReplicaCount = (sets: Obj[]) => sets.reduce((n, rs) => n + ((rs.status?.availableReplicas as number) ?? 0), 0);

/**
 * NewRSNewReplicas: how far the new ReplicaSet may grow now. Rolling: up to spec.replicas + maxSurge pods in all
 * ReplicaSets (maxSurge rounded up, straight from GetValueFromIntOrPercent), never beyond spec.replicas. Recreate:
 * spec.replicas.
 */
export function newRSNewReplicas(d: Obj, allRSs: Obj[], newRS: Obj): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d)) return replicas;
  const surge = valueFromIntOrPercent(d.spec.strategy?.rollingUpdate?.maxSurge ?? 0, replicas, true);
  const current = replicaCount(allRSs);
  const maxTotal = replicas + surge;
  if (current >= maxTotal) return replicasOf(newRS);
  const scaleUp = Math.min(maxTotal - current, replicas - replicasOf(newRS));
  return replicasOf(newRS) + scaleUp;
}

export const hasProgressDeadline = (d: Obj) => d.spec?.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds !== MAX_INT32;

/** DeploymentComplete: all replicas updated and available, no old ones left, the generation observed. */
export function deploymentComplete(d: Obj, status: Obj): boolean {
  const replicas = replicasOf(d);
  return (
    (status.updatedReplicas ?? 0) === replicas &&
    (status.replicas ?? 0) === replicas &&
    (status.availableReplicas ?? 0) === replicas &&
    (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** DeploymentProgressing: more updated, ready or available pods than last time, or fewer old ones. */
export function deploymentProgressing(d: Obj, status: Obj): boolean {
  const old: Obj = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (status.replicas ?? 0) - (status.updatedReplicas ?? 0);
  return (
    (status.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (status.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (status.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/**
 * DeploymentTimedOut: the Progressing condition has not been updated for progressDeadlineSeconds (`lastUpdateAt`
 * is its lastUpdateTime in real ms, which the controller keeps to the millisecond for the scaled clock).
 */
export function deploymentTimedOut(d: Obj, status: Obj, lastUpdateAt: number, secondMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const condition = getCondition(status.conditions, 'Progressing');
  if (!condition || condition.reason === 'NewReplicaSetAvailable') return false;
  if (condition.reason === 'ProgressDeadlineExceeded') return true;
  return lastUpdateAt + d.spec.progressDeadlineSeconds * secondMs < Date.now();
}

// ---- conditions, as NewDeploymentCondition / SetDeploymentCondition / RemoveDeploymentCondition ----------------

export const newCondition = (type: string, status: string, reason: string, message: string): Obj => {
  const at = now();
  return { type, status, lastUpdateTime: at, lastTransitionTime: at, reason, message };
};

export const getCondition = (conditions: Obj[] | undefined, type: string): Obj | undefined => (conditions ?? []).find((c) => c.type === type);

export const removeCondition = (conditions: Obj[] | undefined, type: string): Obj[] => (conditions ?? []).filter((c) => c.type !== type);

/**
 * SetDeploymentCondition: nothing changes when a condition of that type has the same status and reason; otherwise
 * it moves to the end, keeping lastTransitionTime when only the reason changed. Returns whether it was set.
 */
export function setCondition(status: Obj, condition: Obj): boolean {
  const current = getCondition(status.conditions, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return false;
  const next = { ...condition };
  if (current && current.status === condition.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...removeCondition(status.conditions, condition.type), next];
  return true;
}

/** ReplicaSetToDeploymentCondition: a ReplicaSet's ReplicaFailure condition as the Deployment shows it. */
export const replicaSetToDeploymentCondition = (c: Obj): Obj => ({
  type: c.type,
  status: c.status,
  lastUpdateTime: c.lastTransitionTime,
  lastTransitionTime: c.lastTransitionTime,
  reason: c.reason,
  message: c.message,
});
