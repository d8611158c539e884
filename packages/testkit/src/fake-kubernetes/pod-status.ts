/**
 * A pod's status as the scheduler and the kubelet write it (pkg/kubelet/kubelet_pods.go generateAPIPodStatus,
 * getPhase, convertToAPIContainerStatuses), from what the fake kubelet knows of its containers.
 */
import { now } from './cluster-host.js';
import { qosClass } from './defaults.js';
import { normalizeImage } from './image-puller.js';
import type { Obj } from './merge.js';
import type { ContainerRun, PodRun, Terminated } from './pod-run.js';

export const NODES = ['fake-node-1', 'fake-node-2', 'fake-node-3'];
export const SCHEDULING_FAILURE = '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';

const terminatedState = (t: Terminated) => ({ exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt, finishedAt: t.finishedAt, containerID: t.containerID });

function containerStatus(c: ContainerRun): Obj {
  const base = { name: c.name, image: normalizeImage(c.image), imageID: c.imageID ?? '', ...(c.containerID ? { containerID: c.containerID } : {}) };
  const lastState = c.lastTerminated ? { terminated: terminatedState(c.lastTerminated) } : {};
  const rest = { lastState, ready: false, restartCount: c.restartCount, started: false };
  switch (c.state) {
    case 'running':
      return { ...base, state: { running: { startedAt: c.running!.startedAt } }, ...rest, ready: c.ready, started: true };
    case 'terminated':
      return { ...base, state: { terminated: terminatedState(c.terminated!) }, ...rest };
    case 'waiting':
      return { ...base, state: { waiting: { ...c.waiting } }, ...rest };
    default:
      return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, ...rest };
  }
}

/**
 * getPhase for restartPolicy Always: Pending while a container waits without having run, Running while one runs
 * or all are between restarts (waiting with a last termination, or just terminated).
 */
function phaseOf(containers: ContainerRun[], restartPolicy: string): string {
  // getPhase for Never and OnFailure: every container ended; Succeeded when all exited 0.
  if (restartPolicy !== 'Always' && containers.length > 0 && containers.every((c) => c.state === 'terminated')) {
    if (containers.every((c) => c.terminated!.exitCode === 0)) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
  }
  const waiting = containers.some((c) => c.state === 'creating' || (c.state === 'waiting' && !c.lastTerminated));
  return waiting || containers.length === 0 ? 'Pending' : 'Running';
}

/** The status to write for `pod`, keeping each condition's lastTransitionTime while its status holds. */
export function podStatus(pod: Obj, run: PodRun): Obj {
  const previous: Obj = pod.status ?? {};
  const at = now();
  const condition = (type: string, ok: boolean, reason?: string, message?: string) => {
    const before = (previous.conditions ?? []).find((c: Obj) => c.type === type);
    const status = ok ? 'True' : 'False';
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : at,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  };
  if (!run.node) {
    return { phase: 'Pending', conditions: [condition('PodScheduled', false, 'Unschedulable', run.unschedulable ?? SCHEDULING_FAILURE)], qosClass: qosClass(pod.spec) };
  }
  const statuses = run.containers.map(containerStatus);
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name as string);
  const readyMessage = `containers with unready status: [${unready.join(' ')}]`;
  const allReady = unready.length === 0;
  const phase = phaseOf(run.containers, pod.spec?.restartPolicy ?? 'Always');
  const notReady = (type: string) => (phase === 'Succeeded' ? condition(type, false, 'PodCompleted') : condition(type, false, 'ContainersNotReady', readyMessage));
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', phase !== 'Succeeded' && phase !== 'Failed'),
      condition('Initialized', true),
      allReady ? condition('Ready', true) : notReady('Ready'),
      allReady ? condition('ContainersReady', true) : notReady('ContainersReady'),
      condition('PodScheduled', true),
    ],
    hostIP: run.hostIP,
    hostIPs: [{ ip: run.hostIP }],
    podIP: run.podIP,
    podIPs: [{ ip: run.podIP }],
    startTime: previous.startTime ?? at,
    containerStatuses: statuses,
    qosClass: qosClass(pod.spec),
  };
}
