import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1ResourceQuota,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { renderPlaceholders, type PlaceholderValues, type PreviewConfig, type PreviewService } from '@ephemera/schema';

/** The labels every object Ephemera creates carries; sweeps find their objects by them and touch nothing else. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'ephemera.dev/environment',
  instance: 'ephemera.dev/instance',
  pr: 'ephemera.dev/pr',
  service: 'ephemera.dev/service',
} as const;
export const MANAGED_BY = 'ephemera';
const ANNOTATIONS = {
  repository: 'ephemera.dev/repository',
  pullRequestUrl: 'ephemera.dev/pull-request-url',
  commit: 'ephemera.dev/commit',
  /** Set by a redeploy, as `kubectl rollout restart` sets `kubectl.kubernetes.io/restartedAt`: the pods roll again. */
  restartedAt: 'ephemera.dev/restarted-at',
  copiedFrom: 'ephemera.dev/copied-from',
} as const;

/** How long a preview's pod must stay ready before it counts as available (`minReadySeconds`). */
export const MIN_READY_SECONDS = 10;

/** Fixed names of the per-namespace objects that are not the repository's services. */
const OBJECT_NAMES = {
  quota: 'ephemera-quota',
  limits: 'ephemera-defaults',
  networkPolicy: 'ephemera-isolation',
  ingress: 'ephemera-preview',
} as const;

/** The operator's settings that shape every preview. */
export interface PreviewClusterSettings {
  instance: string;
  quota: { cpu: string; memory: string; pods: number };
  defaults: { cpu: string; memory: string };
  ingressNamespace: string;
  ingressClass: string | undefined;
  /** The name (in the preview namespace) of the TLS Secret copied from PREVIEW_TLS_SECRET. */
  tlsSecretName: string | undefined;
  /** The name of the image pull Secret copied from PREVIEW_IMAGE_PULL_SECRET. */
  imagePullSecretName: string | undefined;
}

export interface PreviewManifestInput {
  namespace: string;
  environmentId: number;
  prNumber: number;
  repositoryFullName: string;
  pullRequestUrl: string;
  commitSha: string;
  /** When a redeploy last asked for the pods to restart; kept on later applies so they do not roll for its removal. */
  restartedAt?: Date | null | undefined;
  /** `<namespace>.<PREVIEW_BASE_DOMAIN>`. */
  host: string;
  config: PreviewConfig;
  placeholders: PlaceholderValues;
  settings: PreviewClusterSettings;
}

/** The labels that mark an object as this environment's, for this installation of Ephemera. */
function ownerLabels(environmentId: number, instance: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.environment]: String(environmentId), [LABELS.instance]: instance };
}

/** The selector of everything one environment owns. */
export function environmentSelector(environmentId: number, instance: string): string {
  return Object.entries(ownerLabels(environmentId, instance))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The selector of every namespace of this installation. */
export function instanceSelector(instance: string): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.instance}=${instance}`;
}

/** The service behind the preview URL. */
function exposedService(config: PreviewConfig): string {
  return config.expose ?? Object.keys(config.services)[0]!;
}

/**
 * Everything applied for one environment, in the order it is applied: the namespace and its fences first
 * (quota, default limits, network isolation), then the repository's services, then the Ingress. Copied Secrets
 * are built apart ({@link copiedSecret}), since their data is read from the cluster.
 */
export function previewManifests(input: PreviewManifestInput): KubernetesObject[] {
  const { namespace, settings } = input;
  const labels = ownerLabels(input.environmentId, settings.instance);
  const meta = (name: string) => ({ name, namespace, labels: { ...labels } });

  const ns: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        ...labels,
        [LABELS.pr]: String(input.prNumber),
        // The repository's code is untrusted: nothing privileged runs in a preview.
        'pod-security.kubernetes.io/enforce': 'baseline',
      },
      annotations: { [ANNOTATIONS.repository]: input.repositoryFullName, [ANNOTATIONS.pullRequestUrl]: input.pullRequestUrl },
    },
  };
  const quota: V1ResourceQuota = {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: meta(OBJECT_NAMES.quota),
    spec: {
      hard: {
        'requests.cpu': settings.quota.cpu,
        'limits.cpu': settings.quota.cpu,
        'requests.memory': settings.quota.memory,
        'limits.memory': settings.quota.memory,
        pods: String(settings.quota.pods),
      },
    },
  };
  const limits: V1LimitRange = {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: meta(OBJECT_NAMES.limits),
    spec: {
      limits: [
        {
          type: 'Container',
          _default: { cpu: settings.defaults.cpu, memory: settings.defaults.memory },
          defaultRequest: { cpu: settings.defaults.cpu, memory: settings.defaults.memory },
        },
      ],
    },
  };
  const isolation: V1NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(OBJECT_NAMES.networkPolicy),
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        { _from: [{ podSelector: {} }] },
        { _from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': settings.ingressNamespace } } }] },
      ],
    },
  };

  const workloads: KubernetesObject[] = [];
  for (const [name, service] of Object.entries(input.config.services)) {
    workloads.push(deployment(name, service, input, meta(name)));
    if (service.port !== undefined) workloads.push(clusterService(name, service.port, meta(name)));
  }

  const exposed = exposedService(input.config);
  const port = input.config.services[exposed]!.port!;
  const ingress: V1Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(OBJECT_NAMES.ingress),
    spec: {
      ...(settings.ingressClass ? { ingressClassName: settings.ingressClass } : {}),
      ...(settings.tlsSecretName ? { tls: [{ hosts: [input.host], secretName: settings.tlsSecretName }] } : {}),
      rules: [
        {
          host: input.host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: exposed, port: { number: port } } } }] },
        },
      ],
    },
  };
  return [ns, quota, limits, isolation, ...workloads, ingress];
}

function deployment(name: string, service: PreviewService, input: PreviewManifestInput, metadata: V1Deployment['metadata']): V1Deployment {
  const render = (text: string) => renderPlaceholders(text, input.placeholders);
  const env: V1EnvVar[] = [
    ...Object.entries(service.env).map(([k, v]) => ({ name: k, value: typeof v === 'string' ? render(v) : String(v) })),
    ...service.secret_env.map((s) => ({ name: s.name, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } })),
  ];
  const container: V1Container = {
    name,
    image: render(service.image),
    ...(service.command ? { command: service.command.map(render) } : {}),
    ...(service.args ? { args: service.args.map(render) } : {}),
    ...(service.port !== undefined ? { ports: [{ name: 'http', containerPort: service.port, protocol: 'TCP' }] } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(service.resources && (service.resources.cpu || service.resources.memory)
      ? {
          resources: {
            requests: { ...(service.resources.cpu ? { cpu: service.resources.cpu } : {}), ...(service.resources.memory ? { memory: service.resources.memory } : {}) },
            limits: { ...(service.resources.cpu ? { cpu: service.resources.cpu } : {}), ...(service.resources.memory ? { memory: service.resources.memory } : {}) },
          },
        }
      : {}),
    ...(service.health
      ? { readinessProbe: { httpGet: { path: service.health.path, port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 } }
      : {}),
    securityContext: { allowPrivilegeEscalation: false },
  };
  const podLabels = { ...metadata!.labels, [LABELS.service]: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...metadata, labels: podLabels },
    spec: {
      replicas: service.replicas,
      revisionHistoryLimit: 2,
      progressDeadlineSeconds: input.config.timeout_seconds,
      // A pod counts as available only after staying ready this long: an app that starts and exits a few seconds
      // later (a database it cannot reach) fails its rollout instead of being reported ready.
      minReadySeconds: MIN_READY_SECONDS,
      selector: { matchLabels: { [LABELS.service]: name } },
      template: {
        // The commit is on the pod template, so every push rolls the pods even when the image tag does not change.
        metadata: {
          labels: podLabels,
          annotations: {
            [ANNOTATIONS.commit]: input.commitSha,
            ...(input.restartedAt ? { [ANNOTATIONS.restartedAt]: input.restartedAt.toISOString() } : {}),
          },
        },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(input.settings.imagePullSecretName ? { imagePullSecrets: [{ name: input.settings.imagePullSecretName }] } : {}),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
        },
      },
    },
  };
}

function clusterService(name: string, port: number, metadata: V1Service['metadata']): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector: { [LABELS.service]: name },
      ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** A Secret copied into a preview namespace: its data and type, under this environment's labels. */
export function copiedSecret(source: V1Secret, namespace: string, environmentId: number, instance: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: source.metadata!.name!,
      namespace,
      labels: ownerLabels(environmentId, instance),
      annotations: { [ANNOTATIONS.copiedFrom]: `${source.metadata!.namespace}/${source.metadata!.name}` },
    },
    type: source.type ?? 'Opaque',
    data: { ...(source.data ?? {}) },
  };
}

/** The kinds an environment's objects come in inside its namespace, for pruning what a new configuration dropped. */
export const PRUNABLE_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'ResourceQuota' },
  { apiVersion: 'v1', kind: 'LimitRange' },
] as const;
