/**
 * What a rollout's pods go through, chosen per Deployment generation by the test (`rollout` / `setRollout`), and
 * the plan the kubelet and the ReplicaSet controller follow for it. Whatever the script, the controllers follow
 * their real rules (maxSurge/maxUnavailable, the progress deadline, back-offs); a script only decides what the
 * node and the registry do.
 */

/**
 * One rollout's outcome, as a name or as a small object. The names:
 * - `'success'`: images pull, containers start and pass their readiness probes.
 * - `'ImagePullBackOff'`, `'ErrImagePull'`: the image never becomes pullable (`not found`). Both look the same: the
 *   kubelet shows ErrImagePull after each failed pull and ImagePullBackOff between pulls, retrying on its back-off
 *   (10 s doubling to 300 s).
 * - `'CrashLoopBackOff'`: the container exits with code 1 one second after starting, every time; the kubelet restarts
 *   it on its back-off (10 s doubling to 5 min), so `restartCount` grows.
 * - `'OOMKilled'`: the same, killed with reason OOMKilled and exit code 137.
 * - `'CreateContainerConfigError'`: the container cannot be configured (a Secret or key it references is missing).
 * - `'FailedScheduling'`: no node fits: pods stay Pending, unscheduled.
 * - `'FailedCreate'`: admission refuses the pods as an exhausted ResourceQuota does.
 * - `'ProgressDeadlineExceeded'`: pods never become ready (a failing readinessProbe, connection refused, or without
 *   one an image pull that never ends), so the controller reports the deadline once progressDeadlineSeconds pass.
 * - `'pending'`: the image pull never ends: containers stay ContainerCreating.
 *
 * The object form combines (all fields optional; times in Kubernetes seconds, scaled by `secondMs`):
 * - `pullableAfterSeconds`: pulls fail until this long after the controller picked the script (CI still pushing);
 *   the first pull attempt after that succeeds, so an image that appears just after an attempt is picked up at the
 *   next one, per the back-off.
 * - `pullError`: how pulls fail: `'not found'` (default), `'manifest unknown'`, `'unauthorized'`. Alone, it means
 *   the image never becomes pullable.
 * - `crash`: the container exits `runSeconds` (default 1) after each start with `exitCode` (default 1, or 137 for
 *   `reason: 'OOMKilled'`); `untilRestarts: n` makes the run with restartCount n stay up (an app that exits while
 *   its database starts); `log` is what each crashed run printed (default the server's `crashLog`).
 * - `readiness`: the container runs but its readinessProbe fails with `failWith` (an HTTP status, default 503, or
 *   `'connection refused'`) until `passAfterSeconds` after the script was picked (default never). A container without
 *   a readinessProbe is ready as soon as it runs, as on a real node.
 */
export type RolloutScript = RolloutScriptName | RolloutScriptObject;

export type RolloutScriptName =
  | 'success'
  | 'ImagePullBackOff'
  | 'ErrImagePull'
  | 'CrashLoopBackOff'
  | 'OOMKilled'
  | 'CreateContainerConfigError'
  | 'FailedScheduling'
  | 'FailedCreate'
  | 'ProgressDeadlineExceeded'
  | 'pending';

export type PullError = 'not found' | 'manifest unknown' | 'unauthorized';

export interface CrashScript {
  exitCode?: number;
  reason?: 'Error' | 'OOMKilled' | 'Completed';
  runSeconds?: number;
  untilRestarts?: number;
  log?: string;
}

export interface ReadinessScript {
  failWith?: number | 'connection refused';
  passAfterSeconds?: number;
}

export interface RolloutScriptObject {
  pullableAfterSeconds?: number;
  pullError?: PullError;
  crash?: CrashScript;
  readiness?: ReadinessScript;
}

/**
 * What the `rollout` callback is told about the generation it picks a script for. The callback is asked for each
 * Deployment generation, each StatefulSet revision (its pods, ordinal by ordinal) and each Job (all its pods).
 * For a Job's pods (restartPolicy Never/OnFailure) `crash` is how the container's run ends: `{ exitCode: 0, log }`
 * completes, any other code fails; `'success'` completes one second after starting, exit code 0.
 */
export interface RolloutContext {
  /** The workload's kind: 'Deployment' (the default before StatefulSets and Jobs were scripted), 'StatefulSet', 'Job'. */
  kind: 'Deployment' | 'StatefulSet' | 'Job';
  namespace: string;
  name: string;
  /** The pod template's container images, in order. */
  images: string[];
  /** The workload's metadata.generation the script is for. */
  generation: number;
  /** spec.replicas of that generation (a Job's spec.parallelism). */
  replicas: number;
  /** A copy of the workload (Deployment, StatefulSet or Job) as the controller saw it. */
  deployment: object;
}

export type PullPlan = { kind: 'ok' } | { kind: 'stuck' } | { kind: 'failing'; until: number; error: PullError };

/** A script resolved against the clock when it was picked: what happens to each pod of the generation. */
export interface PodPlan {
  unschedulable: boolean;
  quotaExceeded: boolean;
  forceConfigError: boolean;
  /** The affected container's image pulls; `until` is real ms since the epoch (Infinity: never pullable). */
  pull: PullPlan;
  crash?: { exitCode: number; reason: string; runMs: number; untilRestarts: number; log?: string };
  /** The affected container's readinessProbe fails until `passAt` (real ms; Infinity: never). */
  readiness?: { failWith: number | 'connection refused'; passAt: number };
  /** Without a readinessProbe to fail, the pull never ends instead. */
  stuckWithoutProbe: boolean;
}

const BASE: PodPlan = { unschedulable: false, quotaExceeded: false, forceConfigError: false, pull: { kind: 'ok' }, stuckWithoutProbe: false };

function crashPlan(crash: CrashScript, secondMs: number): NonNullable<PodPlan['crash']> {
  const reason = crash.reason ?? (crash.exitCode === 0 ? 'Completed' : 'Error');
  const exitCode = crash.exitCode ?? (reason === 'OOMKilled' ? 137 : reason === 'Completed' ? 0 : 1);
  return {
    exitCode,
    reason,
    runMs: (crash.runSeconds ?? 1) * secondMs,
    untilRestarts: crash.untilRestarts ?? Infinity,
    ...(crash.log !== undefined ? { log: crash.log } : {}),
  };
}

function namedPlan(name: RolloutScriptName, secondMs: number): PodPlan {
  switch (name) {
    case 'ImagePullBackOff':
    case 'ErrImagePull':
      return { ...BASE, pull: { kind: 'failing', until: Infinity, error: 'not found' } };
    case 'CrashLoopBackOff':
      return { ...BASE, crash: crashPlan({}, secondMs) };
    case 'OOMKilled':
      return { ...BASE, crash: crashPlan({ reason: 'OOMKilled' }, secondMs) };
    case 'CreateContainerConfigError':
      return { ...BASE, forceConfigError: true };
    case 'FailedScheduling':
      return { ...BASE, unschedulable: true };
    case 'FailedCreate':
      return { ...BASE, quotaExceeded: true };
    case 'ProgressDeadlineExceeded':
      return { ...BASE, readiness: { failWith: 'connection refused', passAt: Infinity }, stuckWithoutProbe: true };
    case 'pending':
      return { ...BASE, pull: { kind: 'stuck' } };
    default:
      return BASE;
  }
}

/** The plan for `script`, picked at `pickedAt` (real ms), on a clock of `secondMs` per Kubernetes second. */
export function podPlan(script: RolloutScript, pickedAt: number, secondMs: number): PodPlan {
  if (typeof script === 'string') return namedPlan(script, secondMs);
  const plan: PodPlan = { ...BASE };
  if (script.pullableAfterSeconds !== undefined || script.pullError !== undefined) {
    const until = script.pullableAfterSeconds === undefined ? Infinity : pickedAt + script.pullableAfterSeconds * secondMs;
    plan.pull = { kind: 'failing', until, error: script.pullError ?? 'not found' };
  }
  if (script.crash) plan.crash = crashPlan(script.crash, secondMs);
  if (script.readiness) {
    const passAfter = script.readiness.passAfterSeconds;
    plan.readiness = { failWith: script.readiness.failWith ?? 503, passAt: passAfter === undefined ? Infinity : pickedAt + passAfter * secondMs };
  }
  return plan;
}

/** A finished Job pod's default log. */
export const DEFAULT_JOB_LOG = 'starting job\ndone\n';

/** The plan for a Job's pods: a run that ends, with exit code 0 after a second unless the script says otherwise. */
export function jobPodPlan(script: RolloutScript, pickedAt: number, secondMs: number): PodPlan {
  // A copy: a named script's plan may be the shared base every other pod's 'success' uses.
  const plan = { ...podPlan(script, pickedAt, secondMs) };
  plan.crash ??= { exitCode: 0, reason: 'Completed', runMs: secondMs, untilRestarts: Infinity, log: DEFAULT_JOB_LOG };
  return plan;
}
