import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Job, V1StatefulSet } from '@kubernetes/client-node';
import { ProvisionError, type LogSink } from '../provisioner.js';
import { kubeCall, kubeRead, type KubeApi } from './kube-api.js';

/** Why a StatefulSet is not rolled out yet, by `kubectl rollout status`'s rule (RollingUpdate); null when it is. */
export function statefulSetPending(sts: V1StatefulSet): string | null {
  const s = sts.status;
  if (!s?.observedGeneration || (sts.metadata?.generation ?? 0) > s.observedGeneration) return 'waiting for its spec to be observed';
  const replicas = sts.spec?.replicas ?? 1;
  if ((s.readyReplicas ?? 0) < replicas) return `${s.readyReplicas ?? 0} of ${replicas} pods ready`;
  if (s.updateRevision !== s.currentRevision) return 'rolling update in progress';
  return null;
}

/** How a Job ended, by its `Complete` or `Failed` condition; null while it runs. */
export function jobOutcome(job: V1Job): { ok: true } | { ok: false; reason: string } | null {
  const holds = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  if (holds('Complete')) return { ok: true };
  const failed = holds('Failed');
  if (failed) return { ok: false, reason: failed.reason ?? 'Failed' };
  return null;
}

export interface WaitOptions {
  api: KubeApi;
  namespace: string;
  log: LogSink;
  signal: AbortSignal;
  pollMs: number;
  /** When to give up, on the provisioner's clock. */
  deadline: number;
}

/** Waits for each add-on's StatefulSet to be rolled out, in turn. */
export async function waitForStatefulSets(names: readonly string[], o: WaitOptions & { timeoutSeconds: number }): Promise<void> {
  for (const name of names) {
    let last = '';
    for (;;) {
      const sts = await kubeRead(() => o.api.apps.readNamespacedStatefulSet({ name, namespace: o.namespace }), { signal: o.signal, what: `reading StatefulSet ${name}` });
      const pending = sts ? statefulSetPending(sts) : 'not found';
      if (pending === null) break;
      if (pending !== last) o.log(`add-on ${name}: ${pending}`);
      last = pending;
      if (Date.now() > o.deadline) throw new ProvisionError(`add-on ${name} is not ready after ${o.timeoutSeconds} s: ${pending}`, false);
      await sleep(o.pollMs, undefined, { signal: o.signal });
    }
    o.log(`add-on ${name} ready`);
  }
}

/**
 * Waits for a job run to finish and returns how it ended, with the end of its pod's log (at most `tailLines`) and
 * its container's exit code when it ran.
 */
export async function waitForJob(
  name: string,
  o: WaitOptions & { tailLines: number },
): Promise<{ ok: boolean; reason: string; exitCode: number | undefined; log: string[] }> {
  let outcome: ReturnType<typeof jobOutcome>;
  for (;;) {
    const job = await kubeRead(() => o.api.batch.readNamespacedJob({ name, namespace: o.namespace }), { signal: o.signal, what: `reading Job ${name}` });
    if (!job) throw new ProvisionError(`Job ${name} disappeared before it finished`, false);
    outcome = jobOutcome(job);
    if (outcome) break;
    // The Job's own activeDeadlineSeconds ends it; this is the backstop for a Job nothing reports on.
    if (Date.now() > o.deadline) {
      outcome = { ok: false, reason: 'no outcome reported in time' };
      break;
    }
    await sleep(o.pollMs, undefined, { signal: o.signal });
  }
  const pods = await kubeCall(() => o.api.core.listNamespacedPod({ namespace: o.namespace, labelSelector: `job-name=${name}` }), {
    signal: o.signal,
    what: `listing the pods of Job ${name}`,
  });
  const pod = pods.items.at(-1);
  const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  let log: string[] = [];
  if (pod?.metadata?.name) {
    const text = await kubeRead(
      () => o.api.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: o.namespace, tailLines: o.tailLines }),
      { signal: o.signal, what: `reading the log of Job ${name}` },
    ).catch(() => null);
    if (text) log = text.trimEnd().split('\n').slice(-o.tailLines);
  }
  return { ok: outcome.ok, reason: outcome.ok ? 'Complete' : outcome.reason, exitCode: terminated?.exitCode, log };
}
