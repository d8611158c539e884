/**
 * kube-controller-manager's Deployment controller (kubernetes/kubernetes pkg/controller/deployment). Whenever a
 * Deployment or one of its ReplicaSets changes it syncs the Deployment: finds or creates the new ReplicaSet
 * (sync.go getAllReplicaSetsAndSyncRevision / getNewReplicaSet, with the revision annotations), scales by the
 * strategy (rolling-update.ts: rolling.go, recreate.go), removes old ReplicaSets beyond revisionHistoryLimit once
 * the rollout is complete (cleanupDeployment), and writes the status (deployment-status.ts), syncing again when a
 * stuck rollout's progress deadline is due (requeueStuckDeployment). Pausing and rollbacks are not modelled.
 */
import { createHash } from 'node:crypto';
import { CONTROLLER_MANAGER, DEF, replicasOf, revisionOf, splitKey } from './cluster-host.js';
import { rolloutStatus, stuckRequeueMs } from './deployment-status.js';
import { deploymentComplete, getCondition, hasProgressDeadline, isRollingUpdate, maxSurge, newCondition, newRSNewReplicas, setCondition } from './deployment-util.js';
import { clone, deepEqual, type Obj } from './merge.js';
import { safeEncode } from './names.js';
import type { ReplicaSetController } from './replica-set-controller.js';
import { oldPodsRunning, rollingStep, scaleDownOldForRecreate, type Scaler } from './rolling-update.js';
import { podPlan } from './rollout-script.js';
import { WorkloadController, type WorkloadControllerDeps } from './workload-controller.js';

const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX = 'deployment.kubernetes.io/max-replicas';
/** deployment_util.go annotationsToSkip: Deployment annotations not copied to its ReplicaSets. */
const SKIPPED = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED, MAX, 'deprecated.deployment.rollback.to']);

/** When the controller first found a generation's rollout complete (Progressing: NewReplicaSetAvailable). */
export interface RolloutCompletion {
  namespace: string;
  name: string;
  generation: number;
  /** Date.now() when the controller wrote it. */
  at: number;
}

/** JSON with sorted keys: the pod template's hash must not depend on the order a patch left its fields in. */
const stable = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(stable).join(',')}]` : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Obj)[k])}`).join(',')}}` : JSON.stringify(v);

const copiedAnnotations = (d: Obj) => Object.fromEntries(Object.entries((d.metadata.annotations ?? {}) as Record<string, string>).filter(([k]) => !SKIPPED.has(k)));

export class DeploymentController extends WorkloadController {
  /** The generation each Deployment (by uid) last had a script picked for. */
  private readonly scripted = new Map<string, number>();
  /** When each Deployment's Progressing condition was last updated, in real ms (DeploymentTimedOut's base). */
  private readonly progressAt = new Map<string, number>();
  /** When this controller created each ReplicaSet, in real ms (creationTimestamp is whole seconds). */
  private readonly createdAt = new Map<string, number>();
  /** `uid/generation` of the rollouts already recorded in `completed`. */
  private readonly completedGenerations = new Set<string>();

  constructor(
    deps: WorkloadControllerDeps,
    private readonly replicaSets: ReplicaSetController,
    private readonly completed: RolloutCompletion[],
  ) {
    super(deps, 'Deployment');
  }

  /** A ReplicaSet changed (spec, status, or it went away): its Deployment syncs. */
  replicaSetChanged(rs: Obj): void {
    this.dependentChanged(rs);
  }

  /** The garbage collector: a deleted Deployment's ReplicaSets, and their pods, go with it. */
  deleted(d: Obj): void {
    for (const rs of this.owned(DEF.replicaSet, d)) {
      this.replicaSets.deleted(rs);
      this.host.remove(DEF.replicaSet, rs.metadata.namespace, rs.metadata.name);
    }
    this.scripted.delete(d.metadata.uid);
    this.progressAt.delete(d.metadata.uid);
  }

  protected sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const d = this.host.get(DEF.deployment, namespace, name);
    if (!d || d.metadata.deletionTimestamp || this.host.namespace(namespace)?.status?.phase !== 'Active') return;
    const rsList = this.owned(DEF.replicaSet, d);
    if (isRollingUpdate(d)) this.rolloutRolling(d, rsList);
    else this.rolloutRecreate(d, rsList);
  }

  /** rolling.go rolloutRolling. */
  private rolloutRolling(d: Obj, rsList: Obj[]): void {
    const { newRS, oldRSs } = this.replicaSetsAndSyncRevision(d, rsList, true);
    const step = rollingStep([...oldRSs, newRS!], oldRSs, newRS!, d, this.scaler(d));
    if (!step && deploymentComplete(d, d.status ?? {})) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(d);
  }

  /** recreate.go rolloutRecreate: old pods all gone before the new ReplicaSet is created and scaled up. */
  private rolloutRecreate(d: Obj, rsList: Obj[]): void {
    let { newRS, oldRSs } = this.replicaSetsAndSyncRevision(d, rsList, false);
    const scaler = this.scaler(d);
    const pods = new Map(rsList.map((rs) => [rs.metadata.uid as string, this.owned(DEF.pod, rs)]));
    if (scaleDownOldForRecreate(oldRSs, scaler) || oldPodsRunning(newRS, oldRSs, pods)) {
      this.syncRolloutStatus(d);
      return;
    }
    if (!newRS) ({ newRS, oldRSs } = this.replicaSetsAndSyncRevision(d, rsList, true));
    scaler.scale(newRS!, replicasOf(d));
    if (deploymentComplete(d, d.status ?? {})) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(d);
  }

  private newReplicaSetName(d: Obj): string {
    return `${d.metadata.name}-${safeEncode(createHash('sha256').update(stable(d.spec.template ?? {})).digest())}`;
  }

  /** getAllReplicaSetsAndSyncRevision: the new ReplicaSet (revision = max old revision + 1) and the old ones. */
  private replicaSetsAndSyncRevision(d: Obj, rsList: Obj[], create: boolean): { newRS: Obj | undefined; oldRSs: Obj[] } {
    const name = this.newReplicaSetName(d);
    const existing = rsList.find((r) => r.metadata.name === name);
    const oldRSs = rsList.filter((r) => r !== existing);
    const revision = String(oldRSs.reduce((n, r) => Math.max(n, revisionOf(r)), 0) + 1);
    const newRS = existing ? this.syncNewReplicaSet(d, existing, revision) : create ? this.createNewReplicaSet(d, oldRSs, revision, name) : undefined;
    if (newRS) this.pickScript(d, newRS);
    return { newRS, oldRSs };
  }

  /** getNewReplicaSet, existing: annotations and minReadySeconds synced; FoundNewReplicaSet if no Progressing yet. */
  private syncNewReplicaSet(d: Obj, rs: Obj, revision: string): Obj {
    const annotations: Record<string, string> = { ...(rs.metadata.annotations ?? {}), ...copiedAnnotations(d) };
    const old = rs.metadata.annotations?.[REVISION];
    if (Number(old ?? 0) < Number(revision)) {
      annotations[REVISION] = revision;
      // Rolling back to this ReplicaSet: its earlier revisions are kept.
      if (old !== undefined) annotations[REVISION_HISTORY] = [...(annotations[REVISION_HISTORY] ?? '').split(',').filter(Boolean), old].join(',');
    }
    let current = rs;
    const minReady = d.spec.minReadySeconds ?? 0;
    if (!deepEqual(annotations, rs.metadata.annotations ?? {}) || (rs.spec.minReadySeconds ?? 0) !== minReady) {
      const spec = { ...rs.spec, minReadySeconds: minReady };
      if (!minReady) delete spec.minReadySeconds;
      current = this.host.update(DEF.replicaSet, { ...rs, metadata: { ...rs.metadata, annotations }, spec }, CONTROLLER_MANAGER);
    }
    const found = hasProgressDeadline(d) && !getCondition(d.status?.conditions, 'Progressing');
    this.writeDeployment(d, current.metadata.annotations[REVISION], found ? newCondition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rs.metadata.name}"`) : undefined);
    return current;
  }

  /** getNewReplicaSet, creating: as many replicas as NewRSNewReplicas allows now; Progressing: NewReplicaSetCreated. */
  private createNewReplicaSet(d: Obj, oldRSs: Obj[], revision: string, name: string): Obj {
    const hash = name.slice(d.metadata.name.length + 1);
    const template = clone(d.spec.template ?? {});
    const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
    const rs: Obj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels,
        annotations: { ...copiedAnnotations(d), [REVISION]: revision, [DESIRED]: String(replicasOf(d)), [MAX]: String(replicasOf(d) + maxSurge(d)) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        replicas: 0,
        ...(d.spec.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}),
        selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
        template: { ...template, metadata: { ...(template.metadata ?? {}), labels } },
      },
    };
    rs.spec.replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    const created = this.host.create(DEF.replicaSet, rs, CONTROLLER_MANAGER);
    this.createdAt.set(created.metadata.uid, Date.now());
    if (rs.spec.replicas > 0) this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} to ${rs.spec.replicas}`, 'deployment-controller');
    const progressing = hasProgressDeadline(d) ? newCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${name}"`) : undefined;
    this.writeDeployment(d, revision, progressing);
    this.replicaSets.enqueue(created);
    return created;
  }

  /** The revision annotation and a condition written to the Deployment; `d` is kept in step with the store. */
  private writeDeployment(d: Obj, revision: string, condition: Obj | undefined): void {
    if (d.metadata.annotations?.[REVISION] !== revision) {
      const annotations = { ...(d.metadata.annotations ?? {}), [REVISION]: revision };
      d.metadata = this.host.update(DEF.deployment, { ...d, metadata: { ...d.metadata, annotations } }, CONTROLLER_MANAGER).metadata;
    }
    const status = clone(d.status ?? {});
    if (!condition || !setCondition(status, condition)) return;
    if (condition.type === 'Progressing') this.progressAt.set(d.metadata.uid, Date.now());
    const updated = this.host.update(DEF.deployment, { ...d, status }, CONTROLLER_MANAGER, 'status');
    d.metadata = updated.metadata;
    d.status = updated.status;
  }

  /** The rollout script for a generation, picked the first time the controller acts on it. */
  private pickScript(d: Obj, newRS: Obj): void {
    if (this.scripted.get(d.metadata.uid) === d.metadata.generation) return;
    this.scripted.set(d.metadata.uid, d.metadata.generation);
    this.replicaSets.setPlan(newRS, podPlan(this.script(d, replicasOf(d)), Date.now(), this.clock.secondMs));
  }

  /** scaleReplicaSetAndRecordEvent, and ReplicaSetsByCreationTimestamp. */
  private scaler(d: Obj): Scaler {
    const created = (rs: Obj) => this.createdAt.get(rs.metadata.uid) ?? Date.parse(rs.metadata.creationTimestamp);
    return {
      byAge: (a, b) => created(a) - created(b) || String(a.metadata.name).localeCompare(b.metadata.name),
      scale: (rs, replicas) => {
        const from = replicasOf(rs);
        const annotations = { ...(rs.metadata.annotations ?? {}), [DESIRED]: String(replicasOf(d)), [MAX]: String(replicasOf(d) + maxSurge(d)) };
        if (from === replicas && deepEqual(annotations, rs.metadata.annotations ?? {})) return { scaled: false, rs };
        const updated = this.host.update(DEF.replicaSet, { ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...rs.spec, replicas } }, CONTROLLER_MANAGER);
        if (from === replicas) return { scaled: false, rs: updated };
        const message = `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} to ${replicas} from ${from}`;
        this.events.record(d, 'Normal', 'ScalingReplicaSet', message, 'deployment-controller');
        this.replicaSets.enqueue(updated);
        return { scaled: true, rs: updated };
      },
    };
  }

  /** cleanupDeployment: the oldest (by revision) scaled-down ReplicaSets beyond revisionHistoryLimit are deleted. */
  private cleanupDeployment(oldRSs: Obj[], d: Obj): void {
    const limit: number = d.spec.revisionHistoryLimit ?? 10;
    const cleanable = oldRSs.filter((r) => !r.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of cleanable.slice(0, Math.max(0, cleanable.length - limit))) {
      if (rs.status?.replicas || replicasOf(rs) || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      this.replicaSets.deleted(rs);
      this.host.remove(DEF.replicaSet, rs.metadata.namespace, rs.metadata.name);
    }
  }

  /** syncRolloutStatus, from the ReplicaSets as they are now; then the deadline check is queued if one is due. */
  private syncRolloutStatus(d: Obj): void {
    const allRSs = this.owned(DEF.replicaSet, d);
    const newRS = allRSs.find((r) => r.metadata.name === this.newReplicaSetName(d));
    const uid = d.metadata.uid as string;
    const recorded = Date.parse(getCondition(d.status?.conditions, 'Progressing')?.lastUpdateTime ?? '');
    const lastProgress = this.progressAt.get(uid) ?? (Number.isNaN(recorded) ? Date.now() : recorded);
    const { status, progressUpdated } = rolloutStatus(allRSs, newRS, d, lastProgress, this.clock.secondMs);
    if (progressUpdated) this.progressAt.set(uid, Date.now());
    this.host.update(DEF.deployment, { ...d, status }, CONTROLLER_MANAGER, 'status');
    const generation = d.metadata.generation as number;
    const done = getCondition(status.conditions, 'Progressing')?.reason === 'NewReplicaSetAvailable' && deploymentComplete(d, status);
    if (done && !this.completedGenerations.has(`${uid}/${generation}`)) {
      this.completedGenerations.add(`${uid}/${generation}`);
      this.completed.push({ namespace: d.metadata.namespace, name: d.metadata.name, generation, at: Date.now() });
    }
    const requeue = stuckRequeueMs(d, status, this.progressAt.get(uid) ?? lastProgress, this.clock.secondMs);
    if (requeue !== undefined) this.enqueue(d, Math.max(requeue, this.clock.delayMs));
  }
}
