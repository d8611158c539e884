/**
 * client-go's per-item exponential back-off (k8s.io/client-go/util/flowcontrol/backoff.go) on the scaled clock.
 * The kubelet makes two of them without jitter, both `flowcontrol.NewBackOff(backOffPeriod, MaxContainerBackOff)`
 * (pkg/kubelet/kubelet.go: backOffPeriod = 10 s, MaxContainerBackOff = 300 s): one for image pulls
 * (pkg/kubelet/images/image_manager.go) and one for container restarts (pkg/kubelet/kuberuntime doBackOff).
 */

/** pkg/kubelet/kubelet.go `backOffPeriod`, in Kubernetes seconds. */
export const BACK_OFF_PERIOD_SECONDS = 10;
/** pkg/kubelet/kubelet.go `MaxContainerBackOff`, in Kubernetes seconds. */
export const MAX_CONTAINER_BACK_OFF_SECONDS = 300;

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** The kubelet's: 10 s doubling to 300 s, in real ms for a second of `secondMs`. */
  static kubelet(secondMs: number): Backoff {
    return new Backoff(BACK_OFF_PERIOD_SECONDS * secondMs, MAX_CONTAINER_BACK_OFF_SECONDS * secondMs);
  }

  /** After 2 × maxDuration without an update the back-off starts again from the beginning (`hasExpired`). */
  private expired(eventTime: number, entry: Entry): boolean {
    return eventTime - entry.lastUpdate > this.maxMs * 2;
  }

  /** `Next`: the first failure (or one after expiry) waits the initial period, each later one twice the last, capped. */
  next(id: string, eventTime: number): void {
    const entry = this.entries.get(id);
    if (!entry || this.expired(eventTime, entry)) {
      this.entries.set(id, { backoffMs: this.initialMs, lastUpdate: Date.now() });
      return;
    }
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxMs);
    entry.lastUpdate = Date.now();
  }

  /** `Get`: the current back-off, in ms (0 when there is none). */
  get(id: string): number {
    return this.entries.get(id)?.backoffMs ?? 0;
  }

  /** `IsInBackOffSince`: less than the back-off has passed since `eventTime` (a container's finishedAt). */
  isInBackOffSince(id: string, eventTime: number): boolean {
    const entry = this.entries.get(id);
    if (!entry || this.expired(eventTime, entry)) return false;
    return Date.now() - eventTime < entry.backoffMs;
  }

  /** `IsInBackOffSinceUpdate`: less than the back-off has passed between the last `next` and `eventTime`. */
  isInBackOffSinceUpdate(id: string, eventTime: number): boolean {
    const entry = this.entries.get(id);
    if (!entry || this.expired(eventTime, entry)) return false;
    return eventTime - entry.lastUpdate < entry.backoffMs;
  }

  /** When the back-off that started at the last `next` ends (real ms since the epoch), or now when there is none. */
  endsAt(id: string): number {
    const entry = this.entries.get(id);
    return entry ? entry.lastUpdate + entry.backoffMs : Date.now();
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}

/** A duration as Go's time.Duration.String() writes whole seconds: 10s, 1m20s, 5m0s. */
export function goDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h` : ''}${m}m${s % 60}s`;
}
