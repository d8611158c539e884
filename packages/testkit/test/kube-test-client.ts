/**
 * What the rollout tests share: a fake API server driven through the official client, Deployments to apply, and
 * waiting and watching on its HTTP API.
 */
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1Deployment, type V1DeploymentStrategy, type V1Pod } from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes, type RolloutContext, type RolloutScript } from '../src/fake-kubernetes.js';

export interface KubeTestClient {
  fake: FakeKubernetes;
  core: CoreV1Api;
  apps: AppsV1Api;
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
  pods(ns: string, app: string): Promise<V1Pod[]>;
  deployment(ns: string, name: string): Promise<V1Deployment>;
}

export async function startClient(options: { secondMs: number; controllerDelayMs?: number; rollout: (ctx: RolloutContext) => RolloutScript; crashLog?: string }): Promise<KubeTestClient> {
  const fake = await startFakeKubernetes({ controllerDelayMs: options.controllerDelayMs ?? 5, terminatingMs: 50, ...options });
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  return {
    fake,
    core,
    apps,
    apply: <T extends KubernetesObject>(obj: T) => objects.patch(obj, undefined, undefined, 'test', true, PatchStrategy.ServerSideApply) as Promise<T>,
    pods: async (ns, app) => (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items,
    deployment: (ns, name) => apps.readNamespacedDeployment({ name, namespace: ns }),
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

export interface DeploymentOptions {
  image?: string;
  replicas?: number;
  /** A readinessProbe on GET /healthz of the `http` port. */
  probe?: boolean;
  progressDeadlineSeconds?: number;
  minReadySeconds?: number;
  strategy?: V1DeploymentStrategy;
  /** Changes the pod template (a restart annotation), for a new generation with the same image. */
  restartedAt?: string;
}

export function deployment(ns: string, name: string, o: DeploymentOptions = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: o.replicas ?? 1,
      ...(o.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: o.progressDeadlineSeconds } : {}),
      ...(o.minReadySeconds !== undefined ? { minReadySeconds: o.minReadySeconds } : {}),
      ...(o.strategy ? { strategy: o.strategy } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(o.restartedAt ? { annotations: { 'ephemera.dev/restarted-at': o.restartedAt } } : {}) },
        spec: {
          containers: [
            {
              name: 'web',
              image: o.image ?? 'ghcr.io/acme/web:1.0.0',
              ports: [{ name: 'http', containerPort: 8080 }],
              ...(o.probe ? { readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 } } : {}),
            },
          ],
        },
      },
    },
  };
}

export interface WatchEvent {
  type: string;
  object: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary Kubernetes JSON
  /**
   * Date.now() when the fake stored the change: when the component that made it acted. The arrival time would do
   * only on an idle machine: a busy one delivers an event late, and an interval measured from it comes out short.
   */
  at: number;
}

function stamped(fake: FakeKubernetes, event: Omit<WatchEvent, 'at'>): WatchEvent {
  const resourceVersion = event.object?.metadata?.resourceVersion as string | undefined;
  const at = resourceVersion === undefined ? undefined : fake.changedAt(resourceVersion);
  if (at === undefined) throw new Error(`no stored time for the ${event.type} event of resourceVersion ${resourceVersion}`);
  return { ...event, at };
}

/** Watches `path` (…?watch=true) with plain HTTP, collecting each event with the time it was stored; stop() ends it. */
export async function watch(fake: FakeKubernetes, path: string): Promise<{ events: WatchEvent[]; stop(): void }> {
  const abort = new AbortController();
  const res = await fetch(`${fake.url}${path}${path.includes('?') ? '&' : '?'}watch=true`, { headers: { authorization: 'Bearer fake-token' }, signal: abort.signal });
  const events: WatchEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let failure: unknown;
  void (async () => {
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
          const line = buffered.slice(0, i);
          buffered = buffered.slice(i + 1);
          if (line) events.push(stamped(fake, JSON.parse(line) as Omit<WatchEvent, 'at'>));
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) failure = err;
    }
  })();
  return {
    events,
    stop: () => {
      abort.abort();
      if (failure) throw failure;
    },
  };
}

export const waitingReason = (pod: V1Pod | undefined) => pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
export const isReady = (pod: V1Pod | undefined) => pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const condition = (d: V1Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);
