import type { CoreV1Event, V1Container, V1ContainerStatus, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { eventTime, rolloutState } from './rollout-status.js';

// How a preview's rollout stands, judged as a real cluster shows it, with no I/O: only the pods of each Deployment's
// current ReplicaSet count (old pods are on their way out and say nothing about the new commit), a crash loop is
// given a few restarts, and a failure names the most specific cause seen rather than the deadline that ended it.

/** What the cluster shows of a preview's namespace: its Deployments, their ReplicaSets and Pods, and its Events. */
export interface ClusterView {
  deployments: readonly V1Deployment[];
  replicaSets: readonly V1ReplicaSet[];
  pods: readonly V1Pod[];
  events: readonly CoreV1Event[];
}

/**
 * A reason a service is not rolling out, ranked: the lower the rank, the more it says about why. `pod` and
 * `container` say whose log is worth keeping (in the deployment's logs, never in the reason).
 */
export interface Cause {
  rank: number;
  /** One line, without the service: `OOMKilled (limit 256Mi)`. */
  text: string;
  /** It will not get better by waiting: the rollout fails now. */
  fatal: boolean;
  pod?: string;
  container?: string;
  /** Read the log of the container's previous run (it restarted). */
  previous?: boolean;
}

export const CAUSE_RANK = {
  oomKilled: 1,
  crashLoop: 2,
  cannotStart: 3,
  imagePull: 4,
  refused: 5,
  scheduling: 6,
  readiness: 7,
  progressDeadline: 8,
} as const;

export type ServiceState =
  | { state: 'done'; message: string }
  | { state: 'waiting'; message: string; causes: Cause[] }
  | { state: 'failed'; causes: Cause[] };

export interface JudgeSettings {
  /** PREVIEW_CRASH_RESTARTS: restarts of a current pod's container before a crash loop fails the rollout. */
  crashRestarts: number;
}

/** Container states that will not go away by waiting (a crash loop waits for its restarts). */
const CANNOT_START = new Set(['CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName', 'RunContainerError']);
const IMAGE_PULL = new Set(['ImagePullBackOff', 'ErrImagePull']);
const MAX_TEXT = 400;

const owns = (owner: { metadata?: { uid?: string } }, obj: { metadata?: { ownerReferences?: Array<{ uid: string }> } }) =>
  (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === owner.metadata?.uid);
const revision = (o: { metadata?: { annotations?: Record<string, string> } }) => o.metadata?.annotations?.['deployment.kubernetes.io/revision'];
const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/**
 * The Deployment's current ReplicaSet, as kubectl finds it: owned by the Deployment, of the Deployment's revision;
 * undefined while the controller has not caught up with the latest spec (its pods would be the old commit's).
 */
export function currentReplicaSet(d: V1Deployment, replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet | undefined {
  if ((d.metadata?.generation ?? 0) > (d.status?.observedGeneration ?? 0)) return undefined;
  const rev = revision(d);
  return replicaSets.find((rs) => owns(d, rs) && rev !== undefined && revision(rs) === rev);
}

/** The pods of a ReplicaSet, by its pod-template-hash and ownership, not being deleted. */
export function podsOf(rs: V1ReplicaSet, pods: readonly V1Pod[]): V1Pod[] {
  const hash = rs.metadata?.labels?.['pod-template-hash'];
  return pods.filter((p) => !p.metadata?.deletionTimestamp && owns(rs, p) && (hash === undefined || p.metadata?.labels?.['pod-template-hash'] === hash));
}

/** Why one container of a current pod is not running well, if it is not. */
function containerCause(pod: V1Pod, spec: V1Container | undefined, s: V1ContainerStatus, settings: JudgeSettings, pullFailure: string | undefined): Cause | undefined {
  const at = { pod: pod.metadata?.name ?? '?', container: s.name };
  const waiting = s.state?.waiting;
  const last = s.lastState?.terminated ?? s.state?.terminated;
  const restarts = s.restartCount ?? 0;
  if (last?.reason === 'OOMKilled') {
    const limit = spec?.resources?.limits?.memory;
    return { rank: CAUSE_RANK.oomKilled, text: `OOMKilled (${limit ? `limit ${limit}` : 'no memory limit'})`, fatal: restarts >= settings.crashRestarts, ...at, previous: restarts > 0 };
  }
  if (waiting?.reason === 'CrashLoopBackOff' || (last && restarts > 0 && !s.ready)) {
    const code = last?.exitCode;
    return {
      rank: CAUSE_RANK.crashLoop,
      text: `CrashLoopBackOff (${code === undefined ? 'no exit code' : `exit code ${code}`}; ${restarts} restart${restarts === 1 ? '' : 's'})`,
      fatal: waiting?.reason === 'CrashLoopBackOff' && restarts >= settings.crashRestarts,
      ...at,
      previous: true,
    };
  }
  if (waiting?.reason && CANNOT_START.has(waiting.reason)) {
    return { rank: CAUSE_RANK.cannotStart, text: clip(`${waiting.reason}: ${waiting.message ?? ''}`.trim()), fatal: true, ...at };
  }
  if (waiting?.reason && IMAGE_PULL.has(waiting.reason)) {
    // The kubelet's own words (`manifest unknown`, `unauthorized`) are in its last failed pull, not the back-off.
    const why = pullFailure ?? waiting.message ?? '';
    return { rank: CAUSE_RANK.imagePull, text: clip(`${waiting.reason} (${spec?.image ?? s.image})${why ? `: ${why}` : ''}`), fatal: false, ...at };
  }
  return undefined;
}

/** The message of the kubelet's latest failed pull of a container's image, from its `Failed` events. */
function lastPullFailure(pod: V1Pod, container: string, events: readonly CoreV1Event[]): string | undefined {
  const failed = events
    .filter((e) => e.reason === 'Failed' && e.involvedObject?.name === pod.metadata?.name && (e.involvedObject?.fieldPath ?? '').includes(`{${container}}`))
    .filter((e) => /^Failed to pull image/i.test(e.message ?? ''))
    .sort((a, b) => eventTime(a) - eventTime(b));
  return failed.at(-1)?.message?.trim();
}

/** Every cause a Deployment's current ReplicaSet, its pods and their events show now. */
function causesOf(d: V1Deployment, rs: V1ReplicaSet | undefined, view: ClusterView, settings: JudgeSettings): Cause[] {
  const out: Cause[] = [];
  const failure = d.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (failure) out.push({ rank: CAUSE_RANK.refused, text: clip(`${failure.reason ?? 'FailedCreate'}: ${failure.message ?? ''}`), fatal: false });
  if (!rs) return out;
  const pods = podsOf(rs, view.pods);
  const names = new Set([rs.metadata?.name, ...pods.map((p) => p.metadata?.name)]);
  for (const pod of pods) {
    const specs = new Map([...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => [c.name, c] as const));
    for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const cause = containerCause(pod, specs.get(s.name), s, settings, lastPullFailure(pod, s.name, view.events));
      if (cause) out.push(cause);
    }
    const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled) out.push({ rank: CAUSE_RANK.scheduling, text: clip(`FailedScheduling: ${unscheduled.message ?? unscheduled.reason ?? ''}`), fatal: false });
  }
  // Events of this ReplicaSet and its pods only: an old pod's events say nothing about the new commit.
  for (const e of [...view.events].filter((e) => e.type === 'Warning' && names.has(e.involvedObject?.name)).sort((a, b) => eventTime(a) - eventTime(b))) {
    const message = (e.message ?? '').trim();
    if (e.reason === 'FailedCreate') out.push({ rank: CAUSE_RANK.refused, text: clip(`FailedCreate: ${message}`), fatal: false });
    else if (e.reason === 'FailedScheduling') out.push({ rank: CAUSE_RANK.scheduling, text: clip(`FailedScheduling: ${message}`), fatal: false });
    else if (e.reason === 'Unhealthy' && /readiness probe/i.test(message)) {
      const container = /\{(.+)\}/.exec(e.involvedObject?.fieldPath ?? '')?.[1];
      out.push({ rank: CAUSE_RANK.readiness, text: clip(`readiness probe failing: ${message}`), fatal: false, pod: e.involvedObject?.name ?? '?', ...(container ? { container } : {}) });
    }
  }
  return out;
}

/**
 * A Deployment's rollout: kubectl's rules for done and waiting; failed when a current pod cannot start, crash loops
 * past the restarts allowed, or the controller reports ProgressDeadlineExceeded. The causes are sorted, most
 * specific first; the last of the same rank wins (the latest event says most).
 */
export function judgeDeployment(d: V1Deployment, view: ClusterView, settings: JudgeSettings): ServiceState {
  const rs = currentReplicaSet(d, view.replicaSets);
  const state = rolloutState(d);
  const causes = causesOf(d, rs, view, settings);
  if (state.state === 'failed') causes.push({ rank: CAUSE_RANK.progressDeadline, text: `${state.reason}: ${state.message}`, fatal: true });
  const ranked = rankCauses(causes);
  if (state.state === 'done') return { state: 'done', message: state.message };
  if (ranked.some((c) => c.fatal)) return { state: 'failed', causes: ranked };
  return { state: 'waiting', message: state.message, causes: ranked };
}

/** Causes most specific first, one per rank: the latest seen of each. */
export function rankCauses(causes: readonly Cause[]): Cause[] {
  const byRank = new Map<number, Cause>();
  for (const c of causes) byRank.set(c.rank, { ...c, fatal: c.fatal || (byRank.get(c.rank)?.fatal ?? false) });
  return [...byRank.values()].sort((a, b) => a.rank - b.rank);
}
