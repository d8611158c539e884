import type { LogSink } from '../provisioner.js';
import { ProvisionError } from '../provisioner.js';
import { kubeFailure, type KubeApi } from './kube-api.js';
import { NamespaceWatch } from './namespace-watch.js';
import { CAUSE_RANK, judgeDeployment, rankCauses, type Cause, type ClusterView } from './rollout-judge.js';
import { describeEvent, warningEvents } from './rollout-status.js';

export interface RolloutWaitSettings {
  /** How long one configured second lasts (tests shorten it). */
  secondMs: number;
  /** PREVIEW_CRASH_RESTARTS. */
  crashRestarts: number;
  /** KUBE_RESYNC_SECONDS: how often the Deployments are listed again, in case a watch missed a change. */
  resyncSeconds: number;
  /** Lines of a failing container's log kept in the deployment's logs. */
  tailLines: number;
}

/**
 * The worker's own deadline is the rollout's timeout plus this grace: the Deployment's progressDeadlineSeconds is the
 * timeout itself, so the controller's verdict, with the cause it saw, normally comes first.
 */
export const ROLLOUT_GRACE_SECONDS = 30;

export interface RolloutWait {
  api: KubeApi;
  namespace: string;
  /** The environment's label selector (its Deployments, ReplicaSets and Pods). */
  selector: string;
  services: readonly string[];
  timeoutSeconds: number;
  log: LogSink;
  signal: AbortSignal;
}

/**
 * Waits for every service's Deployment to roll out, watching the namespace rather than polling it. Problems and
 * warning events go to the deployment's logs as they appear. A failure, whatever ends the rollout (a container that
 * cannot start, a crash loop past its restarts, ProgressDeadlineExceeded, the worker's deadline), is one line per
 * service naming the most specific cause seen; the end of the container's log goes to the deployment's logs only,
 * never into the reason, which the pull request shows.
 */
export async function waitForRollout(w: RolloutWait, settings: RolloutWaitSettings): Promise<void> {
  const deadline = Date.now() + (w.timeoutSeconds + ROLLOUT_GRACE_SECONDS) * settings.secondMs;
  // A change that arrives while the view is being judged is not lost: the next wait returns at once.
  let dirty: boolean;
  let wake: () => void = () => undefined;
  const changed = () => {
    dirty = true;
    wake();
  };
  const stop = new AbortController();
  const signal = AbortSignal.any([w.signal, stop.signal]);
  // A watch lasts the whole wait: no request is spent on re-opening it while the rollout is under way.
  const watchSeconds = Math.ceil(((w.timeoutSeconds + ROLLOUT_GRACE_SECONDS) * settings.secondMs) / 1000) + 1;
  const watch = new NamespaceWatch(w.api, w.namespace, w.selector, { onChange: changed, watchSeconds, signal });
  const seen = new Map<string, Cause[]>();
  const logged = new Set<string>();
  const pending = new Set(w.services);
  try {
    await watch.start();
    let nextResync = Date.now() + settings.resyncSeconds * settings.secondMs;
    for (;;) {
      dirty = false;
      const view = watch.view();
      const failed = judgeAll(view, pending, seen, settings, w.log);
      logProblems(view, seen, logged, w.log);
      if (failed) throw await failure(w, watch, [failed], seen, settings);
      if (pending.size === 0) return;
      if (Date.now() >= deadline) throw await failure(w, watch, [...pending], seen, settings);
      if (Date.now() >= nextResync) {
        await watch.resync();
        nextResync = Date.now() + settings.resyncSeconds * settings.secondMs;
        continue;
      }
      if (dirty) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(deadline, nextResync) - Date.now()));
        const abort = () => resolve();
        w.signal.addEventListener('abort', abort, { once: true });
        wake = () => {
          clearTimeout(timer);
          w.signal.removeEventListener('abort', abort);
          resolve();
        };
      });
      w.signal.throwIfAborted();
    }
  } finally {
    stop.abort();
    watch.stop();
  }
}

/** Judges every pending service; the name of one that failed, if any. Done ones leave `pending`. */
function judgeAll(view: ClusterView, pending: Set<string>, seen: Map<string, Cause[]>, settings: RolloutWaitSettings, log: LogSink): string | undefined {
  for (const name of [...pending]) {
    const d = view.deployments.find((x) => x.metadata?.name === name);
    if (!d) continue;
    const state = judgeDeployment(d, view, settings);
    if (state.state === 'done') {
      pending.delete(name);
      log(`${name}: ${state.message}`);
      continue;
    }
    seen.set(name, rankCauses([...(seen.get(name) ?? []).map((c) => ({ ...c, fatal: false })), ...state.causes]));
    if (state.state === 'failed') return name;
  }
  return undefined;
}

/** Problems of current pods and warning events, each logged once as it appears. */
function logProblems(view: ClusterView, seen: Map<string, Cause[]>, logged: Set<string>, log: LogSink): void {
  for (const [name, causes] of seen) {
    for (const c of causes) {
      const key = `${name}/${c.pod ?? ''}/${c.container ?? ''}/${c.text}`;
      if (!logged.has(key)) log(`${name}: ${c.pod ? `pod ${c.pod}${c.container ? ` container ${c.container}` : ''}: ` : ''}${c.text}`);
      logged.add(key);
    }
  }
  for (const e of warningEvents([...view.events])) {
    const key = `event/${e.metadata?.uid ?? e.metadata?.name}/${e.count ?? 1}`;
    if (!logged.has(key)) log(describeEvent(e));
    logged.add(key);
  }
}

/**
 * The error that ends the rollout: per service, the most specific cause seen (what a deadline would otherwise hide),
 * after a last look at the pods and events; the end of the failing containers' logs goes to the deployment's logs.
 */
async function failure(w: RolloutWait, watch: NamespaceWatch, services: string[], seen: Map<string, Cause[]>, settings: RolloutWaitSettings): Promise<ProvisionError> {
  await watch.refresh().catch(() => undefined);
  const view = watch.view();
  const lines: string[] = [];
  for (const name of services) {
    const d = view.deployments.find((x) => x.metadata?.name === name);
    const now = d ? judgeDeployment(d, view, settings) : undefined;
    const causes = rankCauses([...(seen.get(name) ?? []), ...(now && now.state !== 'done' ? now.causes : [])]);
    const best = causes[0];
    if (best) {
      lines.push(`${name}: ${best.text}`);
      await keepLog(w, best, settings);
    } else {
      const waiting = now && now.state === 'waiting' ? now.message : 'its Deployment was not found';
      lines.push(`${name}: rollout did not finish within ${w.timeoutSeconds} s (${waiting})`);
    }
  }
  return new ProvisionError(lines.join('; '), false);
}

/** The end of a failing container's log (its previous run's when it restarted), into the deployment's logs. */
async function keepLog(w: RolloutWait, cause: Cause, settings: RolloutWaitSettings): Promise<void> {
  if (!cause.pod || !cause.container || cause.rank > CAUSE_RANK.readiness || cause.rank === CAUSE_RANK.imagePull || cause.rank === CAUSE_RANK.refused || cause.rank === CAUSE_RANK.scheduling) return;
  const read = (previous: boolean) =>
    w.api.core.readNamespacedPodLog({ name: cause.pod!, namespace: w.namespace, container: cause.container!, tailLines: settings.tailLines, previous });
  try {
    const text = await read(cause.previous === true).catch(() => read(false));
    const lines = text.trimEnd().split('\n').slice(-settings.tailLines);
    w.log(`last log lines of ${cause.pod}/${cause.container}:\n${lines.join('\n')}`);
  } catch (err) {
    w.log(`the log of ${cause.pod}/${cause.container} could not be read: ${kubeFailure(err).message}`);
  }
}
