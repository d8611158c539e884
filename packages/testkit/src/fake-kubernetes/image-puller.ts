/**
 * The kubelet's image manager: pkg/kubelet/images/image_manager.go `EnsureImageExists` / `pullImage`. An image
 * already on the node is used ("already present on machine") unless imagePullPolicy is Always. A failed pull
 * records `Failed to pull image "…": <runtime error>`, starts or doubles the pull back-off (10 s doubling to 300 s)
 * and shows ErrImagePull; the pod's next sync finds the image in back-off: `Back-off pulling image "…"` and
 * ImagePullBackOff, whose message carries the last pull error (kubelet v1.32+, `prevPullErrMsg`). The next pull is
 * attempted when the back-off ends; the first attempt after the image became pullable succeeds.
 */
import { createHash } from 'node:crypto';
import { Backoff } from './back-off.js';
import { containerSpec, on, type ContainerRun, type NodeContext, type PodRun } from './pod-run.js';
import type { PullError, PullPlan } from './rollout-script.js';

/** `nginx:1.25` as the container runtime reports it: `docker.io/library/nginx:1.25`. */
export function normalizeImage(image: string): string {
  const first = image.split('/')[0]!;
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? image : image.includes('/') ? `docker.io/${image}` : `docker.io/library/${image}`;
  const last = full.slice(full.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) full += ':latest';
  return full;
}

/** The digest reference the runtime reports once an image is pulled. */
export function imageIdOf(image: string): string {
  const ref = normalizeImage(image);
  return `${ref.replace(/:[^:/@]+$/, '')}@sha256:${createHash('sha256').update(ref).digest('hex')}`;
}

/**
 * The runtime's error for a failed pull: containerd's for a missing tag (NotFound) and for a private registry
 * without credentials (its anonymous token request refused), Docker Engine's (cri-dockerd) for "manifest unknown".
 */
export function pullErrorMessage(error: PullError, image: string): string {
  const ref = normalizeImage(image);
  const host = ref.slice(0, ref.indexOf('/'));
  const repository = ref.slice(host.length + 1).replace(/[:@][^/]*$/, '');
  switch (error) {
    case 'unauthorized': {
      const scope = `scope=repository%3A${encodeURIComponent(repository)}%3Apull`;
      const token = host === 'docker.io' ? `https://auth.docker.io/token?${scope}&service=registry.docker.io` : `https://${host}/token?${scope}&service=${host}`;
      return `rpc error: code = Unknown desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to ${token}: 401 Unauthorized`;
    }
    case 'manifest unknown':
      return `rpc error: code = Unknown desc = Error response from daemon: manifest for ${image} not found: manifest unknown: manifest unknown`;
    default:
      return `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
  }
}

export class ImagePuller {
  private readonly backOff: Backoff;

  constructor(private readonly node: NodeContext) {
    this.backOff = Backoff.kubelet(node.clock.secondMs);
  }

  /** EnsureImageExists for container `c`, then `pulled()` once the image is on the node. */
  ensure(run: PodRun, c: ContainerRun, pulled: () => void): void {
    const pod = this.node.pod(run);
    if (!pod) return;
    const spec = containerSpec(pod, c);
    if (c.imageID && spec.imagePullPolicy !== 'Always') {
      this.node.events.record(pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, 'kubelet', on(run, c));
      pulled();
      return;
    }
    let plan: PullPlan = c.affected ? run.plan.pull : { kind: 'ok' };
    // A pod that must never become ready but has no readinessProbe to fail: its pull never ends.
    if (c.affected && run.plan.stuckWithoutProbe && !spec.readinessProbe) plan = { kind: 'stuck' };
    this.pull(run, c, plan, pulled);
  }

  private pull(run: PodRun, c: ContainerRun, plan: PullPlan, pulled: () => void): void {
    const pod = this.node.pod(run);
    if (!pod) return;
    const key = `${run.uid}_${c.image}`;
    if (this.backOff.isInBackOffSinceUpdate(key, Date.now())) {
      this.backingOff(run, c, key, plan, pulled);
      return;
    }
    this.node.events.record(pod, 'Normal', 'Pulling', `Pulling image "${c.image}"`, 'kubelet', on(run, c));
    if (plan.kind === 'stuck') return;
    if (plan.kind === 'failing' && Date.now() < plan.until) {
      this.failed(run, c, key, plan, pulled);
      return;
    }
    this.node.after(run, this.node.clock.delayMs, () => {
      c.imageID = imageIdOf(c.image);
      const message = `Successfully pulled image "${c.image}" in 1.204s (1.204s including waiting). Image size: 52428800 bytes.`;
      this.node.events.record(this.node.pod(run)!, 'Normal', 'Pulled', message, 'kubelet', on(run, c));
      pulled();
    });
  }

  /** The pull failed: Failed event, back-off started or doubled, ErrImagePull until the pod's next sync. */
  private failed(run: PodRun, c: ContainerRun, key: string, plan: Extract<PullPlan, { kind: 'failing' }>, pulled: () => void): void {
    const pod = this.node.pod(run)!;
    const message = pullErrorMessage(plan.error, c.image);
    this.node.events.record(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${message}`, 'kubelet', on(run, c));
    this.backOff.next(key, Date.now());
    c.lastPullError = `ErrImagePull: ${message}`;
    // kuberuntime startContainer records the error it got back.
    this.node.events.record(pod, 'Warning', 'Failed', 'Error: ErrImagePull', 'kubelet', on(run, c));
    c.state = 'waiting';
    c.waiting = { reason: 'ErrImagePull', message };
    this.node.write(run);
    // The kubelet syncs the pod again as soon as its sandbox settles (a PLEG event): the image is then in back-off.
    this.node.after(run, this.node.clock.delayMs, () => this.pull(run, c, plan, pulled));
  }

  /** In back-off: BackOff event and ImagePullBackOff, then the next attempt when the back-off ends. */
  private backingOff(run: PodRun, c: ContainerRun, key: string, plan: PullPlan, pulled: () => void): void {
    const pod = this.node.pod(run)!;
    if (c.waiting?.reason !== 'ImagePullBackOff') {
      this.node.events.record(pod, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`, 'kubelet', on(run, c));
      this.node.events.record(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff', 'kubelet', on(run, c));
      c.state = 'waiting';
      c.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"${c.lastPullError ? `: ${c.lastPullError}` : ''}` };
      this.node.write(run);
    }
    // A timer may fire a millisecond early by the wall clock: then it simply waits the rest.
    this.node.after(run, Math.max(1, this.backOff.endsAt(key) - Date.now()), () => this.pull(run, c, plan, pulled));
  }
}
