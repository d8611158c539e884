import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  ServerConfiguration,
  VersionApi,
  createConfiguration,
  type HttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';
import { ProvisionError } from '../provisioner.js';

export interface KubeAccess {
  /** A kubeconfig file (KUBECONFIG); without it, the in-cluster service account. */
  kubeconfigPath?: string | undefined;
  /** KUBE_CONTEXT: a context of that file other than its current one. */
  context?: string | undefined;
  /** Every API request is abandoned after this long. */
  requestTimeoutMs: number;
}

/**
 * Every request gets a deadline: client-node sets none, and a stalled API server would otherwise hold a
 * provisioning job until its lock expires.
 */
class TimeoutHttpLibrary implements HttpLibrary {
  private readonly inner = new IsomorphicFetchHttpLibrary();
  constructor(private readonly timeoutMs: number) {}
  send(request: RequestContext) {
    request.setSignal(AbortSignal.timeout(this.timeoutMs));
    return this.inner.send(request);
  }
}

/** KubernetesObjectApi, with its discovery lookup open: whether the API server serves a kind at all. */
class ObjectApi extends KubernetesObjectApi {
  /** The kind's resource as discovery lists it (cached by the client); undefined when its API version lacks it. */
  discover(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }
}

/** The official client's APIs, configured once from a kubeconfig or the pod's service account. */
export class KubeApi {
  readonly objects: ObjectApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly authorization: AuthorizationV1Api;
  readonly authentication: AuthenticationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly version: VersionApi;
  /** The configuration itself, for watches (client-node's Watch takes it). */
  readonly kubeConfig: KubeConfig;
  /** The API server's address, for messages. */
  readonly server: string;

  constructor(access: KubeAccess) {
    const kc = new KubeConfig();
    if (access.kubeconfigPath) {
      kc.loadFromFile(access.kubeconfigPath);
      if (access.context) {
        if (!kc.getContextObject(access.context)) {
          throw new Error(`KUBE_CONTEXT ${access.context} is not a context of ${access.kubeconfigPath} (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
        }
        kc.setCurrentContext(access.context);
      }
    } else {
      if (!process.env.KUBERNETES_SERVICE_HOST) {
        throw new Error('KUBECONFIG is not set and the worker is not running in a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG to a kubeconfig file');
      }
      kc.loadFromCluster();
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig names no cluster for its current context');
    this.kubeConfig = kc;
    this.server = cluster.server;
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      httpApi: new TimeoutHttpLibrary(access.requestTimeoutMs),
    });
    this.objects = new ObjectApi(configuration);
    this.core = new CoreV1Api(configuration);
    this.apps = new AppsV1Api(configuration);
    this.batch = new BatchV1Api(configuration);
    this.authorization = new AuthorizationV1Api(configuration);
    this.authentication = new AuthenticationV1Api(configuration);
    this.rbac = new RbacAuthorizationV1Api(configuration);
    this.version = new VersionApi(configuration);
  }
}

/** What the API server said, from the Status body when there is one. */
export interface KubeFailure {
  status: number | undefined;
  reason: string | undefined;
  message: string;
}

export function kubeFailure(err: unknown): KubeFailure {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: kept as text
      }
    }
    const status = body as { message?: string; reason?: string } | string | undefined;
    const message =
      typeof status === 'object' && status?.message
        ? status.message
        : typeof status === 'string' && status.length > 0
          ? status.slice(0, 500)
          : err.code === 401
            ? 'Unauthorized: the API server did not accept the credentials'
            : `HTTP ${err.code}`;
    return { status: err.code, reason: typeof status === 'object' ? status?.reason : undefined, message };
  }
  const e = err as { name?: string; message?: string; code?: string };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return { status: undefined, reason: 'Timeout', message: 'the API server did not answer in time' };
  return { status: undefined, reason: e?.code, message: e?.message ?? String(err) };
}

export const isNotFound = (err: unknown) => err instanceof ApiException && err.code === 404;
export const isAlreadyExists = (err: unknown) => err instanceof ApiException && err.code === 409;

/** 5xx, 429, conflicts and network errors pass; 400, 403, 422 and the like will fail the same way again. */
function isTransientKubeError(err: unknown): boolean {
  if (err instanceof ProvisionError) return err.transient;
  const { status } = kubeFailure(err);
  return status === undefined || status >= 500 || status === 429 || status === 409;
}

export interface RetryOptions {
  signal: AbortSignal;
  /** What the call does, for the error message ("apply Deployment web"). */
  what: string;
  attempts?: number;
  baseDelayMs?: number;
}

/**
 * Runs one API call, retrying transient failures with exponential backoff (and the server's Retry-After on 429).
 * What still fails is a ProvisionError carrying the API server's own message; transient ones are retried again
 * by the provisioning job.
 */
export async function kubeCall<T>(fn: () => Promise<T>, { signal, what, attempts = 4, baseDelayMs = 500 }: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProvisionError) throw err;
      const transient = isTransientKubeError(err);
      if (!transient || attempt >= attempts) {
        const f = kubeFailure(err);
        throw new ProvisionError(`${what} failed: ${f.message}${f.status ? ` (HTTP ${f.status})` : ''}`, transient);
      }
      const retryAfter = err instanceof ApiException ? Number(err.headers?.['retry-after']) : NaN;
      const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : baseDelayMs * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
      await sleep(Math.min(delay, 30_000), undefined, { signal });
    }
  }
}

/** {@link kubeCall} for a read where absence is an answer: null on 404. */
export function kubeRead<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T | null> {
  return kubeCall(async () => {
    try {
      return await fn();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }, options);
}
