/**
 * The scheduler and the kubelet for the pods the ReplicaSet controller creates: bind to a node (or fail to),
 * pull images (image-puller.ts), create and start containers, probe readiness (readiness-prober.ts), restart
 * containers that exit (crash-loop.ts), and write the pod's status after each change, as those components do.
 * What the rollout script decides applies to one container per pod: the one with a Secret/ConfigMap key
 * reference, else the first.
 */
import { randomBytes } from 'node:crypto';
import { CONTROLLER_MANAGER, DEF, now, type ClusterHost, type Clock } from './cluster-host.js';
import { containerLogs } from './container-logs.js';
import { CrashLoop } from './crash-loop.js';
import type { EventRecorder } from './event-recorder.js';
import { ImagePuller } from './image-puller.js';
import type { Obj } from './merge.js';
import { NODES, SCHEDULING_FAILURE, podStatus } from './pod-status.js';
import { on, type ContainerRun, type NodeContext, type PodRun } from './pod-run.js';
import { ReadinessProber } from './readiness-prober.js';
import type { PodPlan } from './rollout-script.js';

/** The scheduler's back-off ceiling (podMaxBackoffSeconds, 10 s): how often an unschedulable pod is tried again. */
const SCHEDULER_RETRY_SECONDS = 10;

/** The container a failure script hits: the one with a Secret or ConfigMap key reference, else the first. */
function affectedContainer(pod: Obj): number {
  const i = (pod.spec.containers ?? []).findIndex((c: Obj) => (c.env ?? []).some((e: Obj) => e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef));
  return i >= 0 ? i : 0;
}

export class Kubelet {
  private readonly runs = new Map<string, PodRun>();
  private readonly node: NodeContext;
  private readonly puller: ImagePuller;
  private readonly prober: ReadinessProber;
  private readonly crashes: CrashLoop;
  private nextIp = 10;
  /** The scheduler's volume check: why the pod's claims keep it unschedulable (the PVC binder's answer), if they do. */
  unboundClaims: (pod: Obj) => string | undefined = () => undefined;

  constructor(
    private readonly host: ClusterHost,
    clock: Clock,
    private readonly events: EventRecorder,
    crashLog: string,
    /** Told of every status the kubelet writes (the ReplicaSet controller's pod informer). */
    private readonly podChanged: (pod: Obj) => void,
  ) {
    this.node = {
      host,
      clock,
      events,
      after: (run, ms, fn) => host.schedule(ms, () => this.alive(run) && fn()),
      write: (run) => this.write(run),
      pod: (run) => this.alive(run),
      start: (run, c) => this.start(run, c),
    };
    this.puller = new ImagePuller(this.node);
    this.prober = new ReadinessProber(this.node);
    this.crashes = new CrashLoop(this.node, crashLog);
  }

  /** A pod a controller (ReplicaSet, StatefulSet, Job) created: the scheduler binds it, then the node runs it per `plan`. */
  podCreated(pod: Obj, plan: PodPlan): void {
    const affected = affectedContainer(pod);
    const containers: ContainerRun[] = (pod.spec.containers ?? []).map((c: Obj, i: number) => ({
      name: c.name,
      image: c.image,
      affected: i === affected,
      state: 'creating',
      restartCount: 0,
      ready: false,
    }));
    const run: PodRun = { uid: pod.metadata.uid, namespace: pod.metadata.namespace, name: pod.metadata.name, plan, containers };
    this.runs.set(run.uid, run);
    this.node.after(run, this.node.clock.delayMs, () => this.schedule(run));
  }

  /** The pod is being deleted: the kubelet stops its running containers (Killing) and forgets it. */
  stop(pod: Obj): void {
    const run = this.runs.get(pod.metadata.uid);
    for (const c of run?.node ? run.containers.filter((x) => x.state === 'running') : []) {
      this.events.record(pod, 'Normal', 'Killing', `Stopping container ${c.name}`, 'kubelet', on(run!, c));
    }
    this.runs.delete(pod.metadata.uid);
  }

  /** Since when (real ms) every container of the pod has been ready, for the ReplicaSet controller's minReadySeconds. */
  readySince(uid: string): number | undefined {
    return this.runs.get(uid)?.readySince;
  }

  logs(pod: Obj, container: string, previous: boolean): { text: string } | { error: string } {
    const c = this.runs.get(pod.metadata.uid)?.containers.find((x) => x.name === container);
    return containerLogs(pod, container, c, previous);
  }

  /** The pod while it exists as this run's (not deleted, its namespace not purged). */
  private alive(run: PodRun): Obj | undefined {
    if (this.runs.get(run.uid) !== run) return undefined;
    const pod = this.host.get(DEF.pod, run.namespace, run.name);
    if (pod?.metadata.uid === run.uid) return pod;
    // Gone without the kubelet being told (its namespace purged): forget it.
    this.runs.delete(run.uid);
    return undefined;
  }

  /** The scheduler: bind to a node, or report that none fits and try again later. */
  private schedule(run: PodRun): void {
    const pod = this.alive(run)!;
    const claims = this.unboundClaims(pod);
    if (claims) {
      // The VolumeBinding plugin: the pod waits for its immediate-binding claims; the scheduler retries on their events.
      const first = run.unschedulable === undefined;
      run.unschedulable = claims;
      this.write(run);
      if (first) this.events.record(pod, 'Warning', 'FailedScheduling', claims, 'default-scheduler');
      this.node.after(run, this.node.clock.delayMs, () => this.schedule(run));
      return;
    }
    run.unschedulable = undefined;
    if (run.plan.unschedulable) {
      this.write(run);
      this.events.record(pod, 'Warning', 'FailedScheduling', SCHEDULING_FAILURE, 'default-scheduler');
      this.node.after(run, SCHEDULER_RETRY_SECONDS * this.node.clock.secondMs, () => this.schedule(run));
      return;
    }
    const node = NODES[Math.floor(Math.random() * NODES.length)]!;
    run.node = node;
    run.hostIP = `172.18.0.${2 + NODES.indexOf(node)}`;
    run.podIP = `10.244.${1 + NODES.indexOf(node)}.${this.nextIp++ % 250}`;
    const bound = this.host.update(DEF.pod, { ...pod, spec: { ...pod.spec, nodeName: node } }, CONTROLLER_MANAGER);
    this.events.record(bound, 'Normal', 'Scheduled', `Successfully assigned ${run.namespace}/${run.name} to ${node}`, 'default-scheduler');
    const missing = (bound.spec.imagePullSecrets ?? []).map((s: Obj) => s.name as string).filter((name: string) => !this.host.get(DEF.secret, run.namespace, name));
    if (missing.length > 0) {
      const message = `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`;
      this.events.record(bound, 'Warning', 'FailedToRetrieveImagePullSecret', message, 'kubelet', { host: node });
    }
    this.write(run);
    for (const c of run.containers) this.start(run, c);
  }

  /** The pod sync's work for a container that is not running: image, then create and start. */
  private start(run: PodRun, c: ContainerRun): void {
    this.puller.ensure(run, c, () => this.create(run, c));
  }

  private create(run: PodRun, c: ContainerRun): void {
    const pod = this.alive(run)!;
    const spec = (pod.spec.containers ?? []).find((s: Obj) => s.name === c.name) ?? {};
    const configError = this.configError(pod, spec) ?? (c.affected && run.plan.forceConfigError ? this.scriptedConfigError(pod, spec) : undefined);
    if (configError) {
      // kuberuntime generateContainerConfig failed: the pod worker tries again on its next sync (backOffPeriod).
      this.events.record(pod, 'Warning', 'Failed', `Error: ${configError}`, 'kubelet', on(run, c));
      c.state = 'waiting';
      c.waiting = { reason: 'CreateContainerConfigError', message: configError };
      this.write(run);
      this.node.after(run, 10 * this.node.clock.secondMs, () => this.start(run, c));
      return;
    }
    c.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.events.record(pod, 'Normal', 'Created', `Created container: ${c.name}`, 'kubelet', on(run, c));
    this.events.record(pod, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet', on(run, c));
    c.state = 'running';
    c.waiting = undefined;
    c.running = { startedAt: now(), startedMs: Date.now() };
    c.ready = false;
    this.prober.started(run, c);
    this.crashes.started(run, c);
    this.write(run);
  }

  /** A referenced Secret or ConfigMap (key) that does not exist: the kubelet cannot configure the container. */
  private configError(pod: Obj, container: Obj): string | undefined {
    const ns = pod.metadata.namespace as string;
    for (const env of container.env ?? []) {
      for (const [refKind, def, label] of [['secretKeyRef', DEF.secret, 'Secret'], ['configMapKeyRef', DEF.configMap, 'ConfigMap']] as const) {
        const ref = env.valueFrom?.[refKind];
        if (!ref || ref.optional) continue;
        const obj = this.host.get(def, ns, ref.name);
        if (!obj) return `${label.toLowerCase()} "${ref.name}" not found`;
        if (!(ref.key in { ...(obj.data ?? {}), ...(obj.binaryData ?? {}) })) return `couldn't find key ${ref.key} in ${label} ${ns}/${ref.name}`;
      }
    }
    for (const from of container.envFrom ?? []) {
      for (const [refKind, def, label] of [['secretRef', DEF.secret, 'secret'], ['configMapRef', DEF.configMap, 'configmap']] as const) {
        const ref = from[refKind];
        if (ref && !ref.optional && !this.host.get(def, ns, ref.name)) return `${label} "${ref.name}" not found`;
      }
    }
    return undefined;
  }

  /** The 'CreateContainerConfigError' script: the first key reference is missing, or a config Secret is. */
  private scriptedConfigError(pod: Obj, container: Obj): string {
    const env: Obj[] = container.env ?? [];
    const ref = env.map((e) => e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef).find(Boolean);
    if (!ref) return `secret "${pod.metadata.name.split('-')[0]}-config" not found`;
    const kind = env.some((e) => e.valueFrom?.secretKeyRef === ref) ? 'Secret' : 'ConfigMap';
    return `couldn't find key ${ref.key} in ${kind} ${pod.metadata.namespace}/${ref.name}`;
  }

  /** The status manager's write, then the informers hear of it. */
  private write(run: PodRun): void {
    const pod = this.alive(run);
    if (!pod) return;
    const allReady = run.node !== undefined && run.containers.every((c) => c.ready);
    const updated = this.host.update(DEF.pod, { ...pod, status: podStatus(pod, run) }, 'kubelet', 'status');
    // Ready from the write that says so (the Ready condition's lastTransitionTime, to the ms): minReadySeconds
    // counts from there, never from a moment before anyone could see it.
    if (!allReady) run.readySince = undefined;
    else run.readySince ??= Date.now();
    this.podChanged(updated);
  }
}
