/**
 * The kubelet's readiness probing (pkg/kubelet/prober: worker.go, prober.go). A container without a readinessProbe
 * is ready once running. With one it starts unready; the prober manager triggers a probe as soon as the container
 * runs (after initialDelaySeconds), then every periodSeconds; a failure records an `Unhealthy` Warning
 * "Readiness probe failed: …" (repeats counted on the one event), a success makes the container ready. A run the
 * script crashes never listens, so its probe is refused; without a probe it is ready while it runs, as on a node.
 */
import { containerSpec, on, type ContainerRun, type NodeContext, type PodRun } from './pod-run.js';
import type { Obj } from './merge.js';

/** A probe's port: a number, or the name of one of the container's ports. */
function probePort(port: unknown, container: Obj): number | string {
  if (typeof port === 'number') return port;
  const named = (container.ports ?? []).find((p: Obj) => p.name === port);
  return named?.containerPort ?? port ?? 80;
}

/** What the prober reports for a failing probe (pkg/probe/http, tcp), with the pod IP as the host. */
export function probeFailure(probe: Obj, container: Obj, podIP: string, failWith: number | 'connection refused'): string {
  if (probe.httpGet) {
    const port = probePort(probe.httpGet.port, container);
    const host = probe.httpGet.host ?? podIP;
    if (failWith !== 'connection refused') return `HTTP probe failed with statuscode: ${failWith}`;
    const url = `${String(probe.httpGet.scheme ?? 'HTTP').toLowerCase()}://${host}:${port}${probe.httpGet.path ?? ''}`;
    return `Get "${url}": dial tcp ${host}:${port}: connect: connection refused`;
  }
  if (probe.tcpSocket) {
    const port = probePort(probe.tcpSocket.port, container);
    return `dial tcp ${probe.tcpSocket.host ?? podIP}:${port}: connect: connection refused`;
  }
  if (probe.grpc) return `timeout: failed to connect service ":${probe.grpc.port}" within ${probe.timeoutSeconds ?? 1}s`;
  // An exec probe reports the command's output; a failing health script typically prints why.
  return failWith === 'connection refused' ? 'connection refused' : `unhealthy: ${failWith}`;
}

export class ReadinessProber {
  constructor(private readonly node: NodeContext) {}

  /** Container `c` just started: ready now without a readinessProbe, else probed from initialDelaySeconds on. */
  started(run: PodRun, c: ContainerRun): void {
    const spec = containerSpec(this.node.pod(run), c);
    const probe: Obj | undefined = spec.readinessProbe;
    if (!probe) {
      c.ready = true;
      return;
    }
    const startedMs = c.running!.startedMs;
    this.node.after(run, (probe.initialDelaySeconds ?? 0) * this.node.clock.secondMs, () => this.probe(run, c, startedMs, probe, spec));
  }

  /** A run that is going to crash never gets to listen: its probe is refused (none passes before it exits). */
  private crashing(run: PodRun, c: ContainerRun): { failWith: 'connection refused'; passAt: number } | undefined {
    const crash = run.plan.crash;
    return crash && c.restartCount < crash.untilRestarts ? { failWith: 'connection refused', passAt: Infinity } : undefined;
  }

  private probe(run: PodRun, c: ContainerRun, startedMs: number, probe: Obj, spec: Obj): void {
    // The run this probe worker was for has ended (exited, restarted): its probing stops.
    if (c.state !== 'running' || c.running?.startedMs !== startedMs) return;
    const failing = c.affected ? (run.plan.readiness ?? this.crashing(run, c)) : undefined;
    if (!failing || Date.now() >= failing.passAt) {
      if (!c.ready) {
        c.ready = true;
        this.node.write(run);
      }
      return;
    }
    const pod = this.node.pod(run)!;
    const message = `Readiness probe failed: ${probeFailure(probe, spec, pod.status?.podIP ?? '', failing.failWith)}`;
    this.node.events.record(pod, 'Warning', 'Unhealthy', message, 'kubelet', on(run, c));
    this.node.after(run, (probe.periodSeconds ?? 10) * this.node.clock.secondMs, () => this.probe(run, c, startedMs, probe, spec));
  }
}
