import { setTimeout as sleep } from 'node:timers/promises';
import { Watch, type CoreV1Event, type KubernetesObject, type V1Deployment, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import type { KubeApi } from './kube-api.js';
import { kubeCall } from './kube-api.js';
import type { ClusterView } from './rollout-judge.js';

type ListResult<T> = { items: T[]; metadata?: { resourceVersion?: string } };

interface WatchedKind<T extends KubernetesObject> {
  what: string;
  path: string;
  labelSelector: string | undefined;
  list(): Promise<ListResult<T>>;
}

export interface NamespaceWatchOptions {
  /** Called after every change the watches deliver (and after a re-list). */
  onChange: () => void;
  /** How long the server may keep one watch open before it ends it (the watch is then resumed where it was). */
  watchSeconds: number;
  signal: AbortSignal;
}

/** One kind's objects by name, kept current by a list and a watch resumed from the list's resourceVersion. */
class KindCache<T extends KubernetesObject> {
  readonly objects = new Map<string, T>();
  resourceVersion = '';
  private controller: AbortController | undefined;
  private failures = 0;

  constructor(
    readonly kind: WatchedKind<T>,
    private readonly api: KubeApi,
    private readonly o: NamespaceWatchOptions,
  ) {}

  /** Lists (one request) and replaces what is held. */
  async relist(): Promise<void> {
    const list = await kubeCall(() => this.kind.list(), { signal: this.o.signal, what: `listing ${this.kind.what}` });
    this.objects.clear();
    for (const item of list.items) this.objects.set(item.metadata?.name ?? '', item);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  /**
   * Watches from the held resourceVersion. A watch the server ends is resumed from where it was; a resourceVersion
   * too old to resume from (410 Gone) is listed again; a failed watch is tried again with backoff. The watch is
   * bounded by `watchSeconds` on the server and by the same on this side, and ends with {@link stop}.
   */
  async watch(): Promise<void> {
    if (this.o.signal.aborted) return;
    let gone = false;
    const query: Record<string, string | number | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.o.watchSeconds };
    if (this.kind.labelSelector) query.labelSelector = this.kind.labelSelector;
    const done = (err: unknown) => {
      clearTimeout(bound);
      if (this.o.signal.aborted) return;
      const status = (err as { statusCode?: number } | null)?.statusCode;
      void this.resume(gone || status === 410 ? 'relist' : err ? 'retry' : 'resume');
    };
    const bound = setTimeout(() => this.controller?.abort(), (this.o.watchSeconds + 5) * 1000);
    bound.unref();
    this.controller = await new Watch(this.api.kubeConfig).watch(
      this.kind.path,
      query,
      (type: string, obj: T & { code?: number }) => {
        if (type === 'ERROR') {
          if (obj.code === 410) gone = true;
          return;
        }
        this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
        if (type === 'BOOKMARK') return;
        this.failures = 0;
        if (type === 'DELETED') this.objects.delete(obj.metadata?.name ?? '');
        else this.objects.set(obj.metadata?.name ?? '', obj);
        this.o.onChange();
      },
      done,
    );
  }

  private async resume(how: 'relist' | 'retry' | 'resume'): Promise<void> {
    try {
      if (how === 'retry') {
        this.failures++;
        await sleep(Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7)), undefined, { signal: this.o.signal });
      }
      if (how === 'relist') {
        await this.relist();
        this.o.onChange();
      }
      await this.watch();
    } catch {
      // Stopped, or the list failed: the periodic re-list and the deadline still act.
    }
  }

  stop(): void {
    this.controller?.abort();
  }
}

/**
 * What a rollout is judged on, in one preview namespace: its Deployments, ReplicaSets and Pods (by the
 * environment's labels) and its Events, each listed once and then watched, as an informer does. Requests are the
 * four lists and four watches, plus what {@link resync} asks for.
 */
export class NamespaceWatch {
  private readonly deployments: KindCache<V1Deployment>;
  private readonly replicaSets: KindCache<V1ReplicaSet>;
  private readonly pods: KindCache<V1Pod>;
  private readonly events: KindCache<CoreV1Event>;

  constructor(api: KubeApi, namespace: string, selector: string, options: NamespaceWatchOptions) {
    const kind = <T extends KubernetesObject>(what: string, path: string, labelSelector: string | undefined, list: () => Promise<ListResult<T>>) =>
      new KindCache<T>({ what, path, labelSelector, list }, api, options);
    this.deployments = kind('Deployments', `/apis/apps/v1/namespaces/${namespace}/deployments`, selector, () =>
      api.apps.listNamespacedDeployment({ namespace, labelSelector: selector }),
    );
    this.replicaSets = kind('ReplicaSets', `/apis/apps/v1/namespaces/${namespace}/replicasets`, selector, () =>
      api.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }),
    );
    this.pods = kind('pods', `/api/v1/namespaces/${namespace}/pods`, selector, () => api.core.listNamespacedPod({ namespace, labelSelector: selector }));
    // Events carry no labels: the namespace's all.
    this.events = kind('events', `/api/v1/namespaces/${namespace}/events`, undefined, () => api.core.listNamespacedEvent({ namespace }));
  }

  private get all(): Array<KindCache<KubernetesObject>> {
    return [this.deployments, this.replicaSets, this.pods, this.events] as Array<KindCache<KubernetesObject>>;
  }

  /** Lists each kind, then watches each from its list's resourceVersion. */
  async start(): Promise<void> {
    await Promise.all(this.all.map((k) => k.relist()));
    await Promise.all(this.all.map((k) => k.watch()));
  }

  /**
   * The safety net against a change a watch missed: the Deployments, whose status decides a rollout, are listed
   * again (one request).
   */
  async resync(): Promise<void> {
    await this.deployments.relist();
  }

  /** A final look before a verdict that ends the rollout: pods and events listed again (two requests). */
  async refresh(): Promise<void> {
    await Promise.all([this.pods.relist(), this.events.relist()]);
  }

  view(): ClusterView {
    return {
      deployments: [...this.deployments.objects.values()],
      replicaSets: [...this.replicaSets.objects.values()],
      pods: [...this.pods.objects.values()],
      events: [...this.events.objects.values()],
    };
  }

  stop(): void {
    for (const k of this.all) k.stop();
  }
}
