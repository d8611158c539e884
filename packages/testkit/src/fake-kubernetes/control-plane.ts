/**
 * The scripted stand-in for the cluster's own components: kube-controller-manager's Deployment and ReplicaSet
 * controllers (deployment-controller.ts, replica-set-controller.ts), the scheduler and the kubelet (kubelet.ts),
 * wired as their informers connect them: the kubelet's pod status writes wake the ReplicaSet controller, whose
 * ReplicaSet writes wake the Deployment controller. Each follows the real component's rules; what the pods go
 * through (pulls failing, crashes, failing probes, refused creation) is the rollout script's choice
 * (rollout-script.ts), and what admission refuses or the kubelet cannot configure happens whatever the script.
 * Where the server serves the Gateway API, a Gateway implementation's controller (gateway-controller.ts) runs too.
 */
import { DEF, type ClusterHost, type Clock } from './cluster-host.js';
import { DeploymentController, type RolloutCompletion } from './deployment-controller.js';
import { EventRecorder } from './event-recorder.js';
import { GatewayController, type GatewayScript } from './gateway-controller.js';
import { Kubelet } from './kubelet.js';
import type { Obj } from './merge.js';
import { ReplicaSetController } from './replica-set-controller.js';
import { JobController } from './job-controller.js';
import { PvcBinder } from './pvc-binder.js';
import type { ResourceDef } from './resources.js';
import { StatefulSetController } from './stateful-set-controller.js';
import type { RolloutContext, RolloutScript } from './rollout-script.js';

export interface ControlPlaneOptions {
  clock: Clock;
  /** The log of a crashed container when its script names none. */
  crashLog: string;
  /** The current rollout callback (setRollout may replace it). */
  rollout: () => (ctx: RolloutContext) => RolloutScript;
  /** Where the Gateway API is served: the controllerName its Gateway controller answers to, and its current script. */
  gatewayApi?: { controllerName: string; script: () => GatewayScript | undefined };
}

export class ControlPlane {
  /** Each generation's rollout, when the controller first marked it complete. */
  readonly rolloutsCompleted: RolloutCompletion[] = [];
  private readonly deployments: DeploymentController;
  private readonly replicaSets: ReplicaSetController;
  private readonly kubelet: Kubelet;
  private readonly statefulSets: StatefulSetController;
  private readonly jobs: JobController;
  private readonly claims: PvcBinder;
  private readonly gateways?: GatewayController;

  constructor(host: ClusterHost, options: ControlPlaneOptions) {
    const events = new EventRecorder(host, options.clock);
    this.kubelet = new Kubelet(host, options.clock, events, options.crashLog, (pod) => this.podChanged(pod));
    const workloads = { host, clock: options.clock, events, kubelet: this.kubelet, rollout: options.rollout };
    this.replicaSets = new ReplicaSetController(workloads);
    this.deployments = new DeploymentController(workloads, this.replicaSets, this.rolloutsCompleted);
    this.replicaSets.replicaSetChanged = (rs) => this.deployments.replicaSetChanged(rs);
    this.statefulSets = new StatefulSetController(workloads);
    this.jobs = new JobController(workloads);
    this.claims = new PvcBinder(host, options.clock, events);
    this.kubelet.unboundClaims = (pod) => this.claims.unboundClaims(pod);
    this.statefulSets.onClaim = (claim) => this.claims.admit(claim);
    this.statefulSets.claimCreated = (claim) => this.claims.claimChanged(claim);
    if (options.gatewayApi) this.gateways = new GatewayController(host, options.clock, options.gatewayApi.controllerName, options.gatewayApi.script);
  }

  /** Any object was stored, changed or removed (whoever wrote it): the informers of the controllers that watch every change. */
  observed(def: ResourceDef): void {
    this.gateways?.observed(def);
  }

  /** The Gateway controller's script changed: it reconciles everything again. */
  gatewayScriptChanged(): void {
    this.gateways?.resync();
  }

  /** The pod informers of the controllers that own pods. */
  private podChanged(pod: Obj): void {
    this.replicaSets.podChanged(pod);
    this.statefulSets.podChanged(pod);
    this.jobs.podChanged(pod);
  }

  /** DefaultStorageClass admission of a claim being created through the API. */
  admitClaim(claim: Obj): void {
    this.claims.admit(claim);
  }

  /** A StatefulSet, Job or PersistentVolumeClaim was created or changed through the API. */
  changed(def: ResourceDef, obj: Obj): void {
    if (def === DEF.statefulSet) this.statefulSets.enqueue(obj);
    if (def === DEF.job) this.jobs.enqueue(obj);
    if (def === DEF.pvc) this.claims.claimChanged(obj);
  }

  /** A Deployment was created, or its spec changed (a new generation). */
  deploymentChanged(d: Obj): void {
    this.deployments.enqueue(d);
  }

  /** An object is being deleted through the API: the garbage collector and the owners' controllers react. */
  deleted(def: ResourceDef, obj: Obj): void {
    if (def === DEF.deployment) this.deployments.deleted(obj);
    if (def === DEF.replicaSet) {
      this.replicaSets.deleted(obj);
      this.deployments.replicaSetChanged(obj);
    }
    if (def === DEF.statefulSet) this.statefulSets.deleted(obj);
    if (def === DEF.job) this.jobs.deleted(obj);
    if (def === DEF.pod) {
      this.kubelet.stop(obj);
      this.podChanged(obj);
    }
  }

  /** GET …/pods/{name}/log: the container's log, or why there is none. */
  logs(pod: Obj, container: string, previous: boolean): { text: string } | { error: string } {
    return this.kubelet.logs(pod, container, previous);
  }
}
