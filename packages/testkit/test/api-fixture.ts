/**
 * The fake API server the scripted-rollout and API tests drive with the official client, unchanged: whatever it
 * accepts here it accepts from a real API server. The bindings are live: startApi() sets them for the test file.
 */
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes } from '../src/fake-kubernetes.js';

export let fake: FakeKubernetes;
export let objects: KubernetesObjectApi;
export let core: CoreV1Api;
export let apps: AppsV1Api;
export let authz: AuthorizationV1Api;

export async function startApi(options: Parameters<typeof startFakeKubernetes>[0]): Promise<void> {
  fake = await startFakeKubernetes(options);
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig);
  objects = KubernetesObjectApi.makeApiClient(kc);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  authz = kc.makeApiClient(AuthorizationV1Api);
}

export interface Status {
  kind: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ reason: string; message: string; field: string }> };
}

/** The Status body of a failed call (client-node leaves it as text). */
export async function failure(call: Promise<unknown>): Promise<{ code: number; status: Status; headers: Record<string, string> }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body as Status, headers: err.headers as Record<string, string> };
  }
  throw new Error('the call succeeded');
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const apply = <T extends KubernetesObject>(obj: T, manager: string | null = 'ephemera', force = true) =>
  objects.patch(obj, undefined, undefined, manager ?? undefined, force, PatchStrategy.ServerSideApply) as Promise<T>;

export const namespace = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });

export function deployment(ns: string, name: string, image = 'ghcr.io/acme/web:1.0.0', replicas = 2): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  };
}

/** Until the controller has marked the current generation's rollout complete (and the pods have settled). */
export async function rolledOut(ns: string, name: string): Promise<V1Deployment> {
  return waitFor(`${name} to settle`, async () => {
    const d = await apps.readNamespacedDeployment({ name, namespace: ns });
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    const done = d.status?.observedGeneration === d.metadata?.generation && progressing?.reason === 'NewReplicaSetAvailable';
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` });
    const settled = pods.items.every((p) => p.status?.containerStatuses?.every((s) => s.state?.waiting?.reason !== 'ContainerCreating') ?? p.status?.phase === 'Pending');
    return done && settled ? d : undefined;
  });
}

export const podsOf = async (ns: string, app: string): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;
