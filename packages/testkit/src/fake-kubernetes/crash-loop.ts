/**
 * Containers that exit, and the kubelet's restart back-off: pkg/kubelet/kuberuntime/kuberuntime_manager.go
 * `doBackOff` with the kubelet's `flowcontrol.NewBackOff(backOffPeriod, MaxContainerBackOff)` (10 s doubling to
 * 5 min). After an exit the pod's next sync checks `IsInBackOffSince(key, finishedAt)`: the first exit has no
 * back-off yet, so the container restarts at once (and the back-off becomes 10 s); each later exit waits the back-off
 * counted from its finishedAt, showing CrashLoopBackOff "back-off 10s restarting failed container=…" and a
 * `BackOff` Warning, then restarts with the back-off doubled. restartCount is the number of restarts so far, and
 * lastState.terminated keeps the last exit.
 */
import { Backoff, goDuration } from './back-off.js';
import { now } from './cluster-host.js';
import { on, podRef, type ContainerRun, type NodeContext, type PodRun } from './pod-run.js';

export class CrashLoop {
  private readonly backOff: Backoff;

  constructor(
    private readonly node: NodeContext,
    private readonly crashLog: string,
  ) {
    this.backOff = Backoff.kubelet(node.clock.secondMs);
  }

  /** Container `c` just started: if the script crashes this run, it exits `runMs` later. */
  started(run: PodRun, c: ContainerRun): void {
    const crash = c.affected ? run.plan.crash : undefined;
    if (!crash || c.restartCount >= crash.untilRestarts) return;
    const startedMs = c.running!.startedMs;
    this.node.after(run, crash.runMs, () => {
      if (c.state !== 'running' || c.running?.startedMs !== startedMs) return;
      c.terminated = {
        exitCode: crash.exitCode,
        reason: crash.reason,
        startedAt: c.running.startedAt,
        finishedAt: now(),
        containerID: c.containerID!,
        finishedMs: Date.now(),
        log: crash.log ?? this.crashLog,
      };
      c.state = 'terminated';
      c.running = undefined;
      c.ready = false;
      this.node.write(run);
      // PLEG notices the exit at its next relist; the pod's sync then restarts the container or backs off.
      this.node.after(run, this.node.clock.delayMs, () => this.sync(run, c));
    });
  }

  /** The pod's sync for an exited container: doBackOff, then restart. */
  private sync(run: PodRun, c: ContainerRun): void {
    const exit = c.terminated ?? c.lastTerminated;
    if (!exit || c.state === 'running') return;
    // kuberuntime's ShouldContainerBeRestarted: Never keeps every exit, OnFailure keeps a successful one.
    const restartPolicy = this.node.pod(run)?.spec?.restartPolicy ?? 'Always';
    if (c.terminated && (restartPolicy === 'Never' || (restartPolicy === 'OnFailure' && c.terminated.exitCode === 0))) return;
    const key = `${run.uid}_${c.name}`;
    if (this.backOff.isInBackOffSince(key, exit.finishedMs)) {
      this.waitBackOff(run, c, key, exit.finishedMs);
      return;
    }
    this.backOff.next(key, exit.finishedMs);
    if (c.terminated) c.lastTerminated = c.terminated;
    c.terminated = undefined;
    c.restartCount += 1;
    this.node.start(run, c);
  }

  private waitBackOff(run: PodRun, c: ContainerRun, key: string, finishedMs: number): void {
    const pod = this.node.pod(run)!;
    this.node.events.record(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${podRef(run)}`, 'kubelet', on(run, c));
    if (c.terminated) c.lastTerminated = c.terminated;
    c.terminated = undefined;
    c.state = 'waiting';
    const backOff = goDuration(this.backOff.get(key) / this.node.clock.secondMs);
    c.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${backOff} restarting failed container=${c.name} pod=${podRef(run)}` };
    this.node.write(run);
    // The pod worker syncs again when the back-off has passed (a timer a millisecond early just waits the rest).
    this.node.after(run, Math.max(1, finishedMs + this.backOff.get(key) - Date.now()), () => this.sync(run, c));
  }
}
