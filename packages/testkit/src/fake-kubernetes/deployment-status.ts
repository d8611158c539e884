/**
 * The Deployment's status as the controller writes it: pkg/controller/deployment/sync.go `calculateStatus` and
 * progress.go `syncRolloutStatus`, `getReplicaFailures` and `requeueStuckDeployment`.
 */
import { replicasOf } from './cluster-host.js';
import {
  actualReplicaCount,
  availableReplicaCount,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  getCondition,
  hasProgressDeadline,
  maxUnavailable,
  newCondition,
  readyReplicaCount,
  removeCondition,
  replicaCount,
  replicaSetToDeploymentCondition,
  setCondition,
} from './deployment-util.js';
import { clone, type Obj } from './merge.js';

/** calculateStatus: the counts from the ReplicaSets (their status), and the Available condition. */
export function calculateStatus(allRSs: Obj[], newRS: Obj | undefined, d: Obj): Obj {
  const available = availableReplicaCount(allRSs);
  const status: Obj = {
    observedGeneration: d.metadata.generation,
    replicas: actualReplicaCount(allRSs),
    updatedReplicas: newRS ? actualReplicaCount([newRS]) : 0,
    readyReplicas: readyReplicaCount(allRSs),
    availableReplicas: available,
    // Negative when scaling down with more available than desired: then 0.
    unavailableReplicas: Math.max(0, replicaCount(allRSs) - available),
    ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
    conditions: clone(d.status?.conditions ?? []),
  };
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(status, newCondition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'));
  } else {
    setCondition(status, newCondition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'));
  }
  return status;
}

/** getReplicaFailures: the new ReplicaSet's ReplicaFailure conditions, else any old one's. */
function replicaFailures(allRSs: Obj[], newRS: Obj | undefined): Obj[] {
  const of = (rs: Obj | undefined) => (rs?.status?.conditions ?? []).filter((c: Obj) => c.type === 'ReplicaFailure').map(replicaSetToDeploymentCondition);
  const fromNew = of(newRS);
  return fromNew.length > 0 ? fromNew : allRSs.flatMap((rs) => of(rs));
}

export interface RolloutStatus {
  status: Obj;
  /** The Progressing condition got a new lastUpdateTime (progress, completion, timeout). */
  progressUpdated: boolean;
}

/**
 * syncRolloutStatus: calculateStatus, then (with a progress deadline, unless the rollout already completed) one of
 * NewReplicaSetAvailable (complete), ReplicaSetUpdated (progress since the last status), ProgressDeadlineExceeded
 * (no progress for progressDeadlineSeconds since the condition's last update); then ReplicaFailure copied from the
 * ReplicaSets. `lastProgressAt` is when the Progressing condition was last updated (real ms).
 */
export function rolloutStatus(allRSs: Obj[], newRS: Obj | undefined, d: Obj, lastProgressAt: number, secondMs: number): RolloutStatus {
  const status = calculateStatus(allRSs, newRS, d);
  let progressUpdated = false;
  if (!hasProgressDeadline(d)) status.conditions = removeCondition(status.conditions, 'Progressing');
  const current = getCondition(d.status?.conditions, 'Progressing');
  const complete = (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && current?.reason === 'NewReplicaSetAvailable';
  const subject = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
  if (hasProgressDeadline(d) && !complete) {
    if (deploymentComplete(d, status)) {
      progressUpdated = setCondition(status, newCondition('Progressing', 'True', 'NewReplicaSetAvailable', `${subject} has successfully progressed.`));
    } else if (deploymentProgressing(d, status)) {
      // Progress updates lastUpdateTime even with the same reason; lastTransitionTime stays while status stays True.
      const condition = newCondition('Progressing', 'True', 'ReplicaSetUpdated', `${subject} is progressing.`);
      if (current?.status === 'True') condition.lastTransitionTime = current.lastTransitionTime;
      status.conditions = removeCondition(status.conditions, 'Progressing');
      progressUpdated = setCondition(status, condition);
    } else if (deploymentTimedOut(d, status, lastProgressAt, secondMs)) {
      progressUpdated = setCondition(status, newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', `${subject} has timed out progressing.`));
    }
  }
  const failures = replicaFailures(allRSs, newRS);
  if (failures.length > 0) setCondition(status, failures[0]!);
  else status.conditions = removeCondition(status.conditions, 'ReplicaFailure');
  // Go's omitempty: zero counts and an empty condition list are not written.
  for (const k of ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) if (!status[k]) delete status[k];
  if (status.conditions.length === 0) delete status.conditions;
  return { status, progressUpdated };
}

/**
 * requeueStuckDeployment: when a rollout that has neither completed nor timed out should be looked at again for
 * its deadline: its Progressing condition's lastUpdateTime + progressDeadlineSeconds, plus a second against skew.
 * Undefined when no check is due.
 */
export function stuckRequeueMs(d: Obj, status: Obj, lastProgressAt: number, secondMs: number): number | undefined {
  const condition = getCondition(status.conditions, 'Progressing');
  if (!hasProgressDeadline(d) || !condition) return undefined;
  if (deploymentComplete(d, status) || condition.reason === 'ProgressDeadlineExceeded') return undefined;
  const after = lastProgressAt + d.spec.progressDeadlineSeconds * secondMs - Date.now();
  return after < secondMs ? 0 : after + secondMs;
}
