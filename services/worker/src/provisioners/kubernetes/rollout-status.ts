import type { CoreV1Event, V1Deployment } from '@kubernetes/client-node';

export type RolloutState = { state: 'done'; message: string } | { state: 'waiting'; message: string } | { state: 'failed'; reason: string; message: string };

/**
 * A Deployment's rollout by `kubectl rollout status`'s own rules (kubectl's rollout_status.go): the controller has
 * observed the current generation; ProgressDeadlineExceeded fails; otherwise it waits until every replica is
 * updated, old ones are gone and the updated ones are available.
 */
export function rolloutState(d: V1Deployment): RolloutState {
  const name = d.metadata?.name ?? '?';
  const status = d.status ?? {};
  if ((d.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { state: 'waiting', message: `waiting for deployment "${name}" spec update to be observed` };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { state: 'failed', reason: 'ProgressDeadlineExceeded', message: `deployment "${name}" exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}` };
  }
  const wanted = d.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const replicas = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < wanted) return { state: 'waiting', message: `${updated} out of ${wanted} new replicas have been updated` };
  if (replicas > updated) return { state: 'waiting', message: `${replicas - updated} old replicas are pending termination` };
  if (available < updated) return { state: 'waiting', message: `${available} of ${updated} updated replicas are available` };
  return { state: 'done', message: `deployment "${name}" successfully rolled out` };
}

/** Warning events worth showing while waiting: scheduling and quota refusals, pulls and crashes. */
const EVENT_REASONS: ReadonlySet<string> = new Set(['FailedScheduling', 'FailedCreate', 'Failed', 'BackOff', 'FailedMount', 'Unhealthy', 'FailedCreatePodSandBox']);

/** Warning events with a reason in {@link EVENT_REASONS}, oldest first. */
export function warningEvents(events: readonly CoreV1Event[]): CoreV1Event[] {
  return events
    .filter((e) => e.type === 'Warning' && e.reason !== undefined && EVENT_REASONS.has(e.reason))
    .sort((a, b) => eventTime(a) - eventTime(b));
}

export function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

/** One line for an event: `Pod web-1: FailedScheduling: 0/3 nodes are available…`. */
export function describeEvent(e: CoreV1Event): string {
  const what = e.involvedObject ? `${e.involvedObject.kind ?? ''} ${e.involvedObject.name ?? ''}`.trim() : '';
  return `${what ? `${what}: ` : ''}${e.reason}: ${(e.message ?? '').trim()}`;
}
