/**
 * The PersistentVolume controller and a dynamic provisioner, reduced to claims: the DefaultStorageClass admission
 * plugin gives a new claim without storageClassName the default class; a claim whose class exists is provisioned
 * and bound (Immediate: at once; WaitForFirstConsumer: when the scheduler places a pod using it), writing
 * spec.volumeName, the bind annotations and status (Bound, capacity, accessModes). Without a class the claim stays
 * Pending with the controller's events. PersistentVolumes themselves are not served.
 */
import { CONTROLLER_MANAGER, DEF, SyncQueue, keyOf, splitKey, type ClusterHost, type Clock } from './cluster-host.js';
import type { EventRecorder } from './event-recorder.js';
import type { Obj } from './merge.js';

const IS_DEFAULT = 'storageclass.kubernetes.io/is-default-class';

export class PvcBinder {
  private readonly queue: SyncQueue;
  /** Told when a claim becomes Bound (the scheduler's and StatefulSet controller's claim informers). */
  claimBound: (claim: Obj) => void = () => {};

  constructor(
    private readonly host: ClusterHost,
    private readonly clock: Clock,
    private readonly events: EventRecorder,
  ) {
    this.queue = new SyncQueue(host, (key) => this.sync(key));
  }

  /** DefaultStorageClass admission, on creation: the newest default class when the claim names none. */
  admit(claim: Obj): void {
    if (!claim.spec || claim.spec.storageClassName !== undefined) return;
    const defaults = this.host.list(DEF.storageClass, undefined).filter((c) => c.metadata.annotations?.[IS_DEFAULT] === 'true');
    defaults.sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
    if (defaults[0]) claim.spec.storageClassName = defaults[0].metadata.name;
  }

  claimChanged(claim: Obj): void {
    if (claim.status?.phase !== 'Bound') this.queue.add(keyOf(claim), this.clock.delayMs);
  }

  /** The scheduler's VolumeBinding check for a pod: why it cannot be placed yet, or undefined. */
  unboundClaims(pod: Obj): string | undefined {
    const names: string[] = (pod.spec?.volumes ?? []).map((v: Obj) => v.persistentVolumeClaim?.claimName).filter(Boolean);
    const unbound: string[] = [];
    for (const name of names) {
      const claim = this.host.get(DEF.pvc, pod.metadata.namespace, name);
      if (!claim) return `persistentvolumeclaim "${name}" not found`;
      if (claim.status?.phase === 'Bound') continue;
      const cls = claim.spec?.storageClassName ? this.host.get(DEF.storageClass, undefined, claim.spec.storageClassName) : undefined;
      // WaitForFirstConsumer: the scheduler picks the node, the provisioner then creates the volume there.
      if (cls?.volumeBindingMode === 'WaitForFirstConsumer') this.bind(claim, cls);
      else unbound.push(name);
    }
    if (unbound.length === 0) return undefined;
    return '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';
  }

  private sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const claim = this.host.get(DEF.pvc, namespace, name);
    if (!claim || claim.status?.phase === 'Bound') return;
    const className: string | undefined = claim.spec?.storageClassName;
    if (!className) {
      this.events.record(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set', 'persistentvolume-controller');
      return;
    }
    const cls = this.host.get(DEF.storageClass, undefined, className);
    if (!cls) {
      this.events.record(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`, 'persistentvolume-controller');
      return;
    }
    if (cls.volumeBindingMode === 'WaitForFirstConsumer') {
      this.events.record(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding', 'persistentvolume-controller');
      return;
    }
    this.bind(claim, cls);
  }

  private bind(claim: Obj, cls: Obj): void {
    const volume = `pvc-${claim.metadata.uid}`;
    const annotations = {
      ...(claim.metadata.annotations ?? {}),
      'pv.kubernetes.io/bind-completed': 'yes',
      'pv.kubernetes.io/bound-by-controller': 'yes',
      'volume.beta.kubernetes.io/storage-provisioner': cls.provisioner,
      'volume.kubernetes.io/storage-provisioner': cls.provisioner,
    };
    this.events.record(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${keyOf(claim)}"`, cls.provisioner);
    const updated = this.host.update(DEF.pvc, { ...claim, metadata: { ...claim.metadata, annotations }, spec: { ...claim.spec, volumeName: volume } }, CONTROLLER_MANAGER);
    const status = { phase: 'Bound', accessModes: claim.spec.accessModes, capacity: { storage: claim.spec.resources?.requests?.storage } };
    const bound = this.host.update(DEF.pvc, { ...updated, status }, CONTROLLER_MANAGER, 'status');
    this.events.record(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${volume}`, cls.provisioner);
    this.claimBound(bound);
  }
}
