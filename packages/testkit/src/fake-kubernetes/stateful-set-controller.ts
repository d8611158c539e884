/**
 * kube-controller-manager's StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go,
 * stateful_set_utils.go, pkg/controller/history): each template is a ControllerRevision `<sts>-<hash>` (FNV-32a of
 * the revision's data, SafeEncodeString'd); pods are `<sts>-<ordinal>` labelled `controller-revision-hash`,
 * `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`; each volumeClaimTemplate's claim
 * `<template>-<sts>-<ordinal>` is created before the pod and never deleted (retention Retain). OrderedReady: one
 * pod at a time, each Running and Ready before the next; RollingUpdate deletes the highest-ordinal pod not on the
 * update revision (down to the partition) once all are ready, and the next sync recreates it. Status: replicas,
 * readyReplicas, availableReplicas, currentReplicas, updatedReplicas, currentRevision, updateRevision,
 * observedGeneration, collisionCount; currentRevision becomes updateRevision when every pod is updated and ready.
 */
import { CONTROLLER_MANAGER, DEF, keyOf, podReady, splitKey } from './cluster-host.js';
import { podDefaults } from './defaults.js';
import { clone, type Obj } from './merge.js';
import { podPlan, type PodPlan } from './rollout-script.js';
import { PodOwnerController, type WorkloadControllerDeps } from './workload-controller.js';
import { admitPod } from './workload-pods.js';

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** history.HashControllerRevision: FNV-32a of the data, its decimal form SafeEncodeString'd. */
export function revisionHash(data: unknown): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(JSON.stringify(data))) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

const REVISION_LABEL = 'controller-revision-hash';
const ordinalOf = (sts: Obj, pod: Obj) => {
  const m = /-(\d+)$/.exec(pod.metadata.name);
  return m && pod.metadata.name === `${sts.metadata.name}-${m[1]}` ? Number(m[1]) : -1;
};
const isTerminal = (pod: Obj) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

export class StatefulSetController extends PodOwnerController {
  private readonly plans = new Map<string, PodPlan>();

  constructor(deps: WorkloadControllerDeps) {
    super(deps, 'StatefulSet');
  }

  /** The garbage collector: pods and revisions go with the StatefulSet; claims stay (whenDeleted: Retain). */
  deleted(sts: Obj): void {
    for (const pod of this.podsOf(sts)) this.removePod(pod);
    for (const rev of this.revisions(sts)) this.host.remove(DEF.controllerRevision, sts.metadata.namespace, rev.metadata.name);
  }

  private revisions(sts: Obj): Obj[] {
    return this.owned(DEF.controllerRevision, sts).sort((a, b) => a.revision - b.revision);
  }

  /** getStatefulSetRevisions: the revision of the current template, created (or renumbered) when needed. */
  private updateRevision(sts: Obj): Obj {
    const revisions = this.revisions(sts);
    const data = { spec: { template: { ...clone(sts.spec.template), $patch: 'replace' } } };
    const hash = revisionHash(data);
    const name = `${sts.metadata.name}-${hash}`;
    const latest = revisions.at(-1)?.revision ?? 0;
    const existing = revisions.find((r) => r.metadata.name === name);
    if (existing) {
      if (existing.revision === latest) return existing;
      return this.host.update(DEF.controllerRevision, { ...existing, revision: latest + 1 }, CONTROLLER_MANAGER);
    }
    const revision = this.host.create(
      DEF.controllerRevision,
      {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: {
          name,
          namespace: sts.metadata.namespace,
          labels: { ...(sts.spec.template?.metadata?.labels ?? {}), 'controller.kubernetes.io/hash': hash },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.metadata.name, uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        data,
        revision: latest + 1,
      },
      CONTROLLER_MANAGER,
    );
    this.plans.set(`${sts.metadata.uid}/${name}`, podPlan(this.script(sts, sts.spec.replicas ?? 1), Date.now(), this.clock.secondMs));
    // truncateHistory: keep revisionHistoryLimit old revisions besides the live ones.
    const old = this.revisions(sts).filter((r) => r.metadata.name !== name && r.metadata.name !== sts.status?.currentRevision);
    for (const r of old.slice(0, Math.max(0, old.length - (sts.spec.revisionHistoryLimit ?? 10)))) this.host.remove(DEF.controllerRevision, sts.metadata.namespace, r.metadata.name);
    return revision;
  }

  protected sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const sts = this.host.get(DEF.statefulSet, namespace, name);
    if (!sts || this.host.namespace(namespace)?.status?.phase !== 'Active') return;
    const update = this.updateRevision(sts);
    const currentName: string = this.revisions(sts).some((r) => r.metadata.name === sts.status?.currentRevision) ? sts.status.currentRevision : update.metadata.name;
    const current = this.revisions(sts).find((r) => r.metadata.name === currentName) ?? update;
    const replicas: number = sts.spec.replicas ?? 1;
    const ordered = (sts.spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const rolling = (sts.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    const partition: number = rolling ? (sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0) : replicas;
    const pods = () => this.podsOf(sts);
    const byOrdinal = new Map(pods().map((p) => [ordinalOf(sts, p), p]));

    let waiting = false;
    for (let ord = 0; ord < replicas && !waiting; ord++) {
      const pod = byOrdinal.get(ord);
      if (!pod) {
        // newVersionedStatefulSetPod: ordinals below the partition stay on the current revision.
        this.createPod(sts, ord, ord < partition ? current : update);
        waiting = ordered;
      } else if (isTerminal(pod)) {
        this.removePod(pod);
        this.events.record(sts, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${name} successful`, 'statefulset-controller');
        waiting = ordered;
      } else if (ordered && !(pod.status?.phase === 'Running' && podReady(pod))) {
        waiting = true;
      }
    }
    // Scale down: the highest ordinal first, one at a time when ordered and the rest are healthy.
    const condemned = [...byOrdinal.entries()].filter(([ord]) => ord >= replicas).sort(([a], [b]) => b - a);
    if (!waiting && condemned.length > 0) {
      for (const [, pod] of ordered ? condemned.slice(0, 1) : condemned) {
        this.removePod(pod);
        this.events.record(sts, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${name} successful`, 'statefulset-controller');
      }
      waiting = true;
    }
    // RollingUpdate: once every pod is Running and Ready, replace the highest ordinal not on the update revision.
    if (!waiting && rolling) {
      for (let ord = replicas - 1; ord >= partition; ord--) {
        const pod = byOrdinal.get(ord);
        if (pod && pod.metadata.labels?.[REVISION_LABEL] !== update.metadata.name) {
          this.removePod(pod);
          this.events.record(sts, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${name} successful`, 'statefulset-controller');
          this.enqueue(sts);
          break;
        }
      }
    }
    this.writeStatus(sts, pods(), current.metadata.name, update.metadata.name, rolling);
  }

  private createPod(sts: Obj, ord: number, revision: Obj): void {
    const name = `${sts.metadata.name}-${ord}`;
    const ns = sts.metadata.namespace;
    const template = revision.data?.spec?.template ?? sts.spec.template ?? {};
    const claims: Obj[] = sts.spec.volumeClaimTemplates ?? [];
    // createPersistentVolumeClaims: the claims come first, and stay.
    for (const t of claims) {
      const claimName = `${t.metadata.name}-${name}`;
      if (this.host.get(DEF.pvc, ns, claimName)) continue;
      const claim: Obj = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claimName, namespace: ns, labels: { ...(t.metadata.labels ?? {}), ...(sts.spec.selector?.matchLabels ?? {}) }, ...(t.metadata.annotations ? { annotations: { ...t.metadata.annotations } } : {}) },
        spec: clone(t.spec),
      };
      this.onClaim(claim);
      const created = this.host.create(DEF.pvc, claim, CONTROLLER_MANAGER);
      this.claimCreated(created);
      this.events.record(sts, 'Normal', 'SuccessfulCreate', `create Claim ${claimName} Pod ${name} in StatefulSet ${sts.metadata.name} success`, 'statefulset-controller');
    }
    const volumes: Obj[] = (template.spec?.volumes ?? []).filter((v: Obj) => !claims.some((t) => t.metadata.name === v.name));
    for (const t of claims) volumes.push({ name: t.metadata.name, persistentVolumeClaim: { claimName: `${t.metadata.name}-${name}` } });
    const pod: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: {
          ...(template.metadata?.labels ?? {}),
          [REVISION_LABEL]: revision.metadata.name,
          'statefulset.kubernetes.io/pod-name': name,
          'apps.kubernetes.io/pod-index': String(ord),
        },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.metadata.name, uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...clone(template.spec ?? {}), hostname: name, ...(sts.spec.serviceName ? { subdomain: sts.spec.serviceName } : {}), ...(volumes.length ? { volumes } : {}) },
    };
    podDefaults(pod);
    const refusal = admitPod(this.host, pod);
    if (refusal) {
      this.events.record(sts, 'Warning', 'FailedCreate', `create Pod ${name} in StatefulSet ${sts.metadata.name} failed error: pods "${name}" is forbidden: ${refusal}`, 'statefulset-controller');
      this.queue.add(keyOf(sts), this.clock.secondMs);
      return;
    }
    const created = this.host.create(DEF.pod, pod, CONTROLLER_MANAGER);
    this.events.record(sts, 'Normal', 'SuccessfulCreate', `create Pod ${name} in StatefulSet ${sts.metadata.name} successful`, 'statefulset-controller');
    this.kubelet.podCreated(created, this.plans.get(`${sts.metadata.uid}/${revision.metadata.name}`) ?? podPlan('success', Date.now(), this.clock.secondMs));
  }

  /** Set by the control plane: DefaultStorageClass admission, and the binder's informer. */
  onClaim: (claim: Obj) => void = () => {};
  claimCreated: (claim: Obj) => void = () => {};

  private writeStatus(sts: Obj, pods: Obj[], currentRevision: string, updateRevision: string, rolling: boolean): void {
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    const ready = live.filter(podReady);
    const minReadyMs = (sts.spec.minReadySeconds ?? 0) * this.clock.secondMs;
    const status: Obj = {
      observedGeneration: sts.metadata.generation,
      replicas: live.length,
      readyReplicas: ready.length,
      availableReplicas: ready.filter((p) => minReadyMs === 0 || (this.kubelet.readySince(p.metadata.uid) ?? Date.now()) + minReadyMs <= Date.now()).length,
      currentReplicas: live.filter((p) => p.metadata.labels?.[REVISION_LABEL] === currentRevision).length,
      updatedReplicas: live.filter((p) => p.metadata.labels?.[REVISION_LABEL] === updateRevision).length,
      currentRevision,
      updateRevision,
      collisionCount: sts.status?.collisionCount ?? 0,
    };
    // completeRollingUpdate.
    if (rolling && status.updatedReplicas === status.replicas && status.readyReplicas === status.replicas && status.replicas === (sts.spec.replicas ?? 1)) {
      status.currentReplicas = status.updatedReplicas;
      status.currentRevision = updateRevision;
    }
    // Go's omitempty (replicas and availableReplicas are always written).
    for (const k of ['readyReplicas', 'currentReplicas', 'updatedReplicas']) if (!status[k]) delete status[k];
    this.host.update(DEF.statefulSet, { ...sts, status }, CONTROLLER_MANAGER, 'status');
    if (minReadyMs > 0 && status.availableReplicas < status.readyReplicas) this.queue.add(keyOf(sts), minReadyMs);
  }
}
