/**
 * What the fake kubelet knows of a pod it runs: each container's state, restarts and last exit, with the times
 * to the millisecond (the API's timestamps are whole seconds, too coarse for a scaled clock).
 */
import type { EventRecorder } from './event-recorder.js';
import type { ClusterHost, Clock } from './cluster-host.js';
import type { Obj } from './merge.js';
import type { PodPlan } from './rollout-script.js';

export interface Terminated {
  exitCode: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
  containerID: string;
  /** finishedAt in real ms, for the restart back-off. */
  finishedMs: number;
  /** What the run printed. */
  log: string;
}

export interface ContainerRun {
  name: string;
  /** The image as the pod spec names it. */
  image: string;
  /** Whether the rollout script's failure applies to this container (the one with config references, else the first). */
  affected: boolean;
  state: 'creating' | 'waiting' | 'running' | 'terminated';
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string; startedMs: number };
  terminated?: Terminated;
  lastTerminated?: Terminated;
  containerID?: string;
  /** The image's digest reference once pulled. */
  imageID?: string;
  restartCount: number;
  ready: boolean;
  /** The last failed pull's error, which ImagePullBackOff's message carries (as kubelets since v1.32 write it). */
  lastPullError?: string;
}

export interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  plan: PodPlan;
  node?: string;
  podIP?: string;
  hostIP?: string;
  containers: ContainerRun[];
  /** Why the scheduler cannot bind the pod yet (its claims unbound), when that is the reason. */
  unschedulable?: string;
  /** When every container became ready (real ms), for minReadySeconds; undefined while not ready. */
  readySince?: number;
}

/** What the kubelet's parts share: the store, the clock, events, and the pod's life. */
export interface NodeContext {
  host: ClusterHost;
  clock: Clock;
  events: EventRecorder;
  /** Runs `fn` after `ms` unless the pod is gone (deleted, or its namespace purged) by then. */
  after(run: PodRun, ms: number, fn: () => void): void;
  /** Writes the pod's status as the kubelet sees it now. */
  write(run: PodRun): void;
  /** The pod as stored, while it exists. */
  pod(run: PodRun): Obj | undefined;
  /** Pulls (if needed), then creates and starts the container, as the kubelet's sync does for a container not running. */
  start(run: PodRun, c: ContainerRun): void;
}

/** An event's source for one container on the pod's node. */
export const on = (run: PodRun, c: ContainerRun) => ({ host: run.node!, fieldPath: `spec.containers{${c.name}}` });

/** format.Pod: how the kubelet names a pod in messages. */
export const podRef = (run: PodRun) => `${run.name}_${run.namespace}(${run.uid})`;

export const containerSpec = (pod: Obj | undefined, c: ContainerRun): Obj => (pod?.spec?.containers ?? []).find((s: Obj) => s.name === c.name) ?? {};
