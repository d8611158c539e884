/**
 * The Deployment controller's two strategies, step for step from kubernetes/kubernetes
 * pkg/controller/deployment/rolling.go (reconcileNewReplicaSet, reconcileOldReplicaSets, cleanupUnhealthyReplicas,
 * scaleDownOldReplicaSetsForRollingUpdate) and recreate.go. They work on the ReplicaSets' spec and status as the
 * controller's informer last saw them; availability comes from status.availableReplicas, which the ReplicaSet
 * controller writes as pods become ready (and minReadySeconds pass).
 */
import { isActivePod, replicasOf } from './cluster-host.js';
import { availableReplicaCount, actualReplicaCount, maxUnavailable, newRSNewReplicas, replicaCount } from './deployment-util.js';
import type { Obj } from './merge.js';

export interface Scaler {
  /** scaleReplicaSetAndRecordEvent: sets spec.replicas (and the replicas annotations); `scaled` when the size changed. */
  scale(rs: Obj, replicas: number): { scaled: boolean; rs: Obj };
  /** ReplicaSetsByCreationTimestamp: oldest first. */
  byAge(a: Obj, b: Obj): number;
}

/** reconcileNewReplicaSet: scale the new ReplicaSet down to spec.replicas, or up as far as NewRSNewReplicas allows. */
export function reconcileNewReplicaSet(allRSs: Obj[], newRS: Obj, d: Obj, scaler: Scaler): boolean {
  const want = replicasOf(d);
  if (replicasOf(newRS) === want) return false;
  if (replicasOf(newRS) > want) return scaler.scale(newRS, want).scaled;
  return scaler.scale(newRS, newRSNewReplicas(d, allRSs, newRS)).scaled;
}

/**
 * reconcileOldReplicaSets: old pods may go only while at least spec.replicas - maxUnavailable stay available:
 * maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount, so unavailable new pods hold the old ones
 * back. Unhealthy old replicas are cleaned up first (within maxScaledDown), then available ones as new pods count.
 */
export function reconcileOldReplicaSets(allRSs: Obj[], oldRSs: Obj[], newRS: Obj, d: Obj, scaler: Scaler): boolean {
  if (replicaCount(oldRSs) === 0) return false;
  const allPodsCount = replicaCount(allRSs);
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newRSUnavailablePodCount = replicasOf(newRS) - ((newRS.status?.availableReplicas as number) ?? 0);
  const maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount;
  if (maxScaledDown <= 0) return false;
  const cleaned = cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown, scaler);
  const scaledDown = scaleDownOldReplicaSetsForRollingUpdate([...cleaned.oldRSs, newRS], cleaned.oldRSs, d, scaler);
  return cleaned.count + scaledDown > 0;
}

/** cleanupUnhealthyReplicas: oldest first, scale away replicas that are not available, at most `maxCleanupCount`. */
export function cleanupUnhealthyReplicas(oldRSs: Obj[], _d: Obj, maxCleanupCount: number, scaler: Scaler): { oldRSs: Obj[]; count: number } {
  const sorted = [...oldRSs].sort((a, b) => scaler.byAge(a, b));
  let total = 0;
  for (let i = 0; i < sorted.length; i++) {
    const target = sorted[i]!;
    if (total >= maxCleanupCount) break;
    if (replicasOf(target) === 0) continue;
    const available = (target.status?.availableReplicas as number) ?? 0;
    if (replicasOf(target) === available) continue;
    const count = Math.min(maxCleanupCount - total, replicasOf(target) - available);
    sorted[i] = scaler.scale(target, replicasOf(target) - count).rs;
    total += count;
  }
  return { oldRSs: sorted, count: total };
}

/** scaleDownOldReplicaSetsForRollingUpdate: oldest first, only what is available beyond minAvailable. */
export function scaleDownOldReplicaSetsForRollingUpdate(allRSs: Obj[], oldRSs: Obj[], d: Obj, scaler: Scaler): number {
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const availablePodCount = availableReplicaCount(allRSs);
  if (availablePodCount <= minAvailable) return 0;
  const totalScaleDownCount = availablePodCount - minAvailable;
  let total = 0;
  for (const target of [...oldRSs].sort((a, b) => scaler.byAge(a, b))) {
    if (total >= totalScaleDownCount) break;
    if (replicasOf(target) === 0) continue;
    const count = Math.min(replicasOf(target), totalScaleDownCount - total);
    scaler.scale(target, replicasOf(target) - count);
    total += count;
  }
  return total;
}

/** rolloutRolling's scaling: scale up if possible, else scale down. Which of the two happened (or neither). */
export function rollingStep(allRSs: Obj[], oldRSs: Obj[], newRS: Obj, d: Obj, scaler: Scaler): 'up' | 'down' | undefined {
  if (reconcileNewReplicaSet(allRSs, newRS, d, scaler)) return 'up';
  const active = oldRSs.filter((rs) => replicasOf(rs) > 0);
  return reconcileOldReplicaSets(allRSs, active, newRS, d, scaler) ? 'down' : undefined;
}

/**
 * recreate.go oldPodsRunning: an old ReplicaSet still reports pods, or a pod not owned by the new ReplicaSet is not
 * Succeeded or Failed.
 */
export function oldPodsRunning(newRS: Obj | undefined, oldRSs: Obj[], podsByReplicaSet: Map<string, Obj[]>): boolean {
  if (actualReplicaCount(oldRSs) > 0) return true;
  for (const [uid, pods] of podsByReplicaSet) {
    if (newRS && newRS.metadata.uid === uid) continue;
    if (pods.some(isActivePod)) return true;
  }
  return false;
}

/** scaleDownOldReplicaSetsForRecreate: every active old ReplicaSet to 0. */
export function scaleDownOldForRecreate(oldRSs: Obj[], scaler: Scaler): boolean {
  let scaled = false;
  for (const rs of oldRSs.filter((r) => replicasOf(r) > 0)) scaled = scaler.scale(rs, 0).scaled || scaled;
  return scaled;
}
