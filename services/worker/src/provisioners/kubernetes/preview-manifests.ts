import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1LimitRange,
  V1Namespace,
  V1ResourceQuota,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { renderPlaceholders, type PlaceholderValues, type PreviewConfig, type PreviewService } from '@ephemera/schema';
import type { PreviewTlsMode } from '../../config.js';
import { needsPullSecret } from './image-policy.js';
import { previewNetworkPolicy } from './preview-network-policy.js';

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
  /** The Secret cert-manager writes the preview's own certificate into (PREVIEW_TLS_MODE=cert-manager). */
  tlsSecret: 'preview-tls',
} as const;

/** How the preview's Ingress gets its certificate (PREVIEW_TLS_MODE). */
export interface PreviewTls {
  mode: PreviewTlsMode;
  /** `copy`: the name of the Secret copied from PREVIEW_TLS_SECRET. */
  secretName?: string | undefined;
  /** `cert-manager`: the ClusterIssuer (PREVIEW_TLS_ISSUER). */
  issuer?: string | undefined;
}

/** The operator's settings that shape every preview. */
export interface PreviewClusterSettings {
  instance: string;
  quota: { cpu: string; memory: string; pods: number };
  defaults: { cpu: string; memory: string };
  /** PREVIEW_DEFAULT_EPHEMERAL_STORAGE (LimitRange default and default request) and PREVIEW_QUOTA_EPHEMERAL_STORAGE. */
  ephemeralStorage: { default: string; quota: string };
  /** PREVIEW_POD_SECURITY: the namespace's enforced Pod Security level. */
  podSecurity: 'restricted' | 'baseline';
  ingressNamespace: string;
  ingressClass: string | undefined;
  /** PREVIEW_EGRESS_DENY_CIDRS and PREVIEW_EGRESS_ALLOW_CIDRS. */
  egress: { denyCidrs: readonly string[]; allowCidrs: readonly string[] };
  tls: PreviewTls;
  /** The name of the image pull Secret copied from PREVIEW_IMAGE_PULL_SECRET. */
  imagePullSecretName: string | undefined;
  /** PREVIEW_IMAGE_PULL_SECRET_REGISTRIES: only pods with an image from these hosts get the pull secret; undefined: every pod. */
  imagePullSecretRegistries: readonly string[] | undefined;
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
export function ownerLabels(environmentId: number, instance: string): Record<string, string> {
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
        'pod-security.kubernetes.io/enforce': settings.podSecurity,
        'pod-security.kubernetes.io/enforce-version': 'latest',
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
        'requests.ephemeral-storage': settings.ephemeralStorage.quota,
        'limits.ephemeral-storage': settings.ephemeralStorage.quota,
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
          _default: { cpu: settings.defaults.cpu, memory: settings.defaults.memory, 'ephemeral-storage': settings.ephemeralStorage.default },
          defaultRequest: { cpu: settings.defaults.cpu, memory: settings.defaults.memory, 'ephemeral-storage': settings.ephemeralStorage.default },
        },
      ],
    },
  };
  const isolation = previewNetworkPolicy(meta(OBJECT_NAMES.networkPolicy), {
    ingressNamespace: settings.ingressNamespace,
    egressDenyCidrs: settings.egress.denyCidrs,
    egressAllowCidrs: settings.egress.allowCidrs,
  });

  const workloads: KubernetesObject[] = [];
  for (const [name, service] of Object.entries(input.config.services)) {
    workloads.push(deployment(name, service, input, meta(name)));
    if (service.port !== undefined) workloads.push(clusterService(name, service.port, meta(name)));
  }

  const exposed = exposedService(input.config);
  const port = input.config.services[exposed]!.port!;
  const tls = ingressTls(settings.tls, input.host);
  const ingress: V1Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...meta(OBJECT_NAMES.ingress), ...tls.annotations },
    spec: {
      ...(settings.ingressClass ? { ingressClassName: settings.ingressClass } : {}),
      ...tls.spec,
      rules: [{ host: input.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: exposed, port: { number: port } } } }] } }],
    },
  };
  return [ns, quota, limits, isolation, ...workloads, ingress];
}

/** The Ingress's `tls` section and annotations for PREVIEW_TLS_MODE. */
function ingressTls(tls: PreviewTls, host: string): { spec: Pick<NonNullable<V1Ingress['spec']>, 'tls'>; annotations: { annotations?: Record<string, string> } } {
  switch (tls.mode) {
    case 'none':
      return { spec: {}, annotations: {} };
    // No secretName: the ingress controller's default certificate (a wildcard for the base domain) serves the host.
    case 'default-certificate':
      return { spec: { tls: [{ hosts: [host] }] }, annotations: {} };
    case 'cert-manager':
      return {
        spec: { tls: [{ hosts: [host], secretName: OBJECT_NAMES.tlsSecret }] },
        annotations: { annotations: { [CERT_MANAGER_ISSUER]: tls.issuer! } },
      };
    case 'copy':
      return { spec: { tls: [{ hosts: [host], secretName: tls.secretName! }] }, annotations: {} };
  }
}

/** cert-manager's ingress-shim annotation: a Certificate for the Ingress's `tls` hosts, issued by this ClusterIssuer. */
export const CERT_MANAGER_ISSUER = 'cert-manager.io/cluster-issuer';

/** What every container Ephemera writes runs with: the Pod Security `restricted` profile's container rules. */
function containerSecurity(service: PreviewService): NonNullable<V1Container['securityContext']> {
  return {
    runAsNonRoot: true,
    ...(service.run_as_user !== undefined ? { runAsUser: service.run_as_user } : {}),
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
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
    securityContext: containerSecurity(service),
  };
  const pullSecret = input.settings.imagePullSecretName && needsPullSecret([container.image!], input.settings.imagePullSecretRegistries);
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
          ...(pullSecret ? { imagePullSecrets: [{ name: input.settings.imagePullSecretName! }] } : {}),
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
