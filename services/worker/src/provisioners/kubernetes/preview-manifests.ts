import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Job,
  V1LimitRange,
  V1Namespace,
  V1ResourceQuota,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import {
  addonCredentialsSecret,
  renderPlaceholders,
  type AddonType,
  type PlaceholderValues,
  type PreviewAddon,
  type PreviewConfig,
  type PreviewJob,
  type PreviewService,
} from '@ephemera/schema';
import { needsPullSecret } from './image-policy.js';
import { previewNetworkPolicy } from './preview-network-policy.js';
import { previewRoute, routerNamespace, ROUTE_NAME, type PreviewRouting } from './preview-route.js';

/** The labels every object Ephemera creates carries; sweeps find their objects by them and touch nothing else. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'ephemera.dev/environment',
  instance: 'ephemera.dev/instance',
  pr: 'ephemera.dev/pr',
  service: 'ephemera.dev/service',
  addon: 'ephemera.dev/addon',
  job: 'ephemera.dev/job',
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
} as const;

/** The operator's settings that shape every preview. */
export interface PreviewClusterSettings {
  instance: string;
  quota: { cpu: string; memory: string; pods: number };
  defaults: { cpu: string; memory: string };
  /** PREVIEW_DEFAULT_EPHEMERAL_STORAGE (LimitRange default and default request) and PREVIEW_QUOTA_EPHEMERAL_STORAGE. */
  ephemeralStorage: { default: string; quota: string };
  /** PREVIEW_QUOTA_STORAGE: the quota's `requests.storage`, what the add-ons' volumes may claim in all. */
  quotaStorage: string;
  /** PREVIEW_STORAGE_CLASS: the add-on volumes' class; undefined: the cluster's default class. */
  storageClass: string | undefined;
  /** PREVIEW_ADDON_IMAGES: the image of each add-on type, with `{{version}}`. */
  addonImages: Readonly<Record<AddonType, string>>;
  /** PREVIEW_POD_SECURITY: the namespace's enforced Pod Security level. */
  podSecurity: 'restricted' | 'baseline';
  /** PREVIEW_ROUTING: an Ingress (INGRESS_NAMESPACE, INGRESS_CLASS, PREVIEW_TLS_*) or an HTTPRoute on PREVIEW_GATEWAY. */
  routing: PreviewRouting;
  /** PREVIEW_EGRESS_DENY_CIDRS and PREVIEW_EGRESS_ALLOW_CIDRS. */
  egress: { denyCidrs: readonly string[]; allowCidrs: readonly string[] };
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

/**
 * Everything applied for one environment, in the order it is applied: the namespace and its fences first
 * (quota, default limits, network isolation), then the repository's services, then the Ingress or HTTPRoute. Copied Secrets
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
        // Add-on volumes: one claim each, and no more storage in all than the operator allows.
        'requests.storage': settings.quotaStorage,
        persistentvolumeclaims: String(Object.keys(input.config.addons ?? {}).length),
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
    routerNamespace: routerNamespace(settings.routing),
    egressDenyCidrs: settings.egress.denyCidrs,
    egressAllowCidrs: settings.egress.allowCidrs,
  });

  const addons: KubernetesObject[] = [];
  for (const [name, addon] of Object.entries(input.config.addons ?? {})) {
    addons.push(addonStatefulSet(name, addon, input, meta(name)), addonService(name, addon, meta(name)));
  }
  const workloads: KubernetesObject[] = [];
  for (const [name, service] of Object.entries(input.config.services)) {
    workloads.push(deployment(name, service, input, meta(name)));
    if (service.port !== undefined) workloads.push(clusterService(name, service.port, meta(name)));
  }

  const route = previewRoute(settings.routing, input.host, input.config, meta(ROUTE_NAME));
  return [ns, quota, limits, isolation, ...addons, ...workloads, route];
}

/** What every container Ephemera writes runs with: the Pod Security `restricted` profile's container rules. */
function containerSecurity(runAsUser: number | undefined): NonNullable<V1Container['securityContext']> {
  return {
    runAsNonRoot: true,
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The container of a service or a job: its image, command, variables (the add-ons' URLs by reference) and limits. */
function appContainer(name: string, spec: PreviewService | PreviewJob, input: PreviewManifestInput): V1Container {
  const render = (text: string) => renderPlaceholders(text, input.placeholders);
  const env: V1EnvVar[] = [
    ...Object.entries(spec.env).map(([k, v]) => ({ name: k, value: typeof v === 'string' ? render(v) : String(v) })),
    ...spec.secret_env.map((s) => ({ name: s.name, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } })),
    ...addonUrlEnv(input.config),
  ];
  const service = 'port' in spec ? spec : undefined;
  return {
    name,
    image: render(spec.image),
    ...(spec.command ? { command: spec.command.map(render) } : {}),
    ...(spec.args ? { args: spec.args.map(render) } : {}),
    ...(service?.port !== undefined ? { ports: [{ name: 'http', containerPort: service.port, protocol: 'TCP' }] } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(spec.resources && (spec.resources.cpu || spec.resources.memory)
      ? {
          resources: {
            requests: { ...(spec.resources.cpu ? { cpu: spec.resources.cpu } : {}), ...(spec.resources.memory ? { memory: spec.resources.memory } : {}) },
            limits: { ...(spec.resources.cpu ? { cpu: spec.resources.cpu } : {}), ...(spec.resources.memory ? { memory: spec.resources.memory } : {}) },
          },
        }
      : {}),
    ...(service?.health
      ? { readinessProbe: { httpGet: { path: service.health.path, port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 } }
      : {}),
    securityContext: containerSecurity(spec.run_as_user),
  };
}

/** Each add-on's URL, in its `url_env`, from its Secret: never written into a spec. */
function addonUrlEnv(config: PreviewConfig): V1EnvVar[] {
  return Object.entries(config.addons ?? {}).map(([name, addon]) => ({
    name: addon.url_env,
    valueFrom: { secretKeyRef: { name: addonCredentialsSecret(name), key: ADDON_SECRET_KEYS.url } },
  }));
}

function deployment(name: string, service: PreviewService, input: PreviewManifestInput, metadata: V1Deployment['metadata']): V1Deployment {
  const container = appContainer(name, service, input);
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

/** The keys of an add-on's Secret `<addon>-credentials`. */
export const ADDON_SECRET_KEYS = { username: 'username', password: 'password', database: 'database', url: 'url' } as const;
/** The user and database every add-on is made with. */
const ADDON_USER = 'app';
/** The volume claim template of an add-on's StatefulSet: its claim is `data-<addon>-0`. */
const ADDON_VOLUME = 'data';

/** The claim a StatefulSet's one pod gets from its volume claim template. */
export function addonClaimName(addon: string): string {
  return `${ADDON_VOLUME}-${addon}-0`;
}

/**
 * How each add-on type runs in a namespace of Pod Security `restricted`: as the official image's own non-root user
 * (uid 999 in the postgres, mysql and redis images), its volume group-owned through `fsGroup`, and its data in a
 * directory of its own inside the volume (a fresh volume may hold `lost+found`, which initdb and mysqld refuse).
 */
const ADDON_KINDS: Record<
  AddonType,
  {
    port: number;
    uid: number;
    mountPath: string;
    env: (secret: string) => V1EnvVar[];
    args?: string[];
    readiness: NonNullable<V1Container['readinessProbe']>;
    url: (host: string, password: string) => string;
  }
> = {
  postgres: {
    port: 5432,
    uid: 999,
    mountPath: '/var/lib/postgresql/data',
    env: (secret) => [
      { name: 'POSTGRES_USER', value: ADDON_USER },
      { name: 'POSTGRES_DB', value: ADDON_USER },
      { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: ADDON_SECRET_KEYS.password } } },
      { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
    ],
    readiness: { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-U', ADDON_USER, '-d', ADDON_USER] } },
    url: (host, password) => `postgres://${ADDON_USER}:${password}@${host}:5432/${ADDON_USER}`,
  },
  mysql: {
    port: 3306,
    uid: 999,
    mountPath: '/var/lib/mysql',
    env: (secret) => [
      { name: 'MYSQL_USER', value: ADDON_USER },
      { name: 'MYSQL_DATABASE', value: ADDON_USER },
      { name: 'MYSQL_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: ADDON_SECRET_KEYS.password } } },
      { name: 'MYSQL_RANDOM_ROOT_PASSWORD', value: 'yes' },
    ],
    args: ['--datadir=/var/lib/mysql/data'],
    // Over TCP: the server the entrypoint starts while initialising listens on no port, so it is not taken for ready.
    readiness: { exec: { command: ['mysqladmin', 'ping', '-h', '127.0.0.1'] } },
    url: (host, password) => `mysql://${ADDON_USER}:${password}@${host}:3306/${ADDON_USER}`,
  },
  redis: {
    port: 6379,
    uid: 999,
    mountPath: '/data',
    env: (secret) => [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: ADDON_SECRET_KEYS.password } } }],
    args: ['redis-server', '--appendonly', 'yes', '--requirepass', '$(REDIS_PASSWORD)'],
    readiness: { tcpSocket: { port: 'addon' } },
    url: (host, password) => `redis://:${password}@${host}:6379/0`,
  },
};

/** An add-on: one pod of the official image (or the operator's mirror) with a volume of `storage`, never restarted by a push. */
function addonStatefulSet(name: string, addon: PreviewAddon, input: PreviewManifestInput, metadata: V1StatefulSet['metadata']): V1StatefulSet {
  const kind = ADDON_KINDS[addon.type];
  const image = input.settings.addonImages[addon.type].replaceAll('{{version}}', addon.version);
  const labels = { ...metadata!.labels, [LABELS.addon]: name };
  const pullSecret = input.settings.imagePullSecretName && needsPullSecret([image], input.settings.imagePullSecretRegistries);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { ...metadata, labels },
    spec: {
      serviceName: name,
      replicas: 1,
      revisionHistoryLimit: 2,
      selector: { matchLabels: { [LABELS.addon]: name } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(pullSecret ? { imagePullSecrets: [{ name: input.settings.imagePullSecretName! }] } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: kind.uid, runAsGroup: kind.uid, fsGroup: kind.uid, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: addon.type,
              image,
              ...(kind.args ? { args: kind.args } : {}),
              ports: [{ name: 'addon', containerPort: kind.port, protocol: 'TCP' }],
              env: kind.env(addonCredentialsSecret(name)),
              readinessProbe: { ...kind.readiness, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
              volumeMounts: [{ name: ADDON_VOLUME, mountPath: kind.mountPath }],
              securityContext: { ...containerSecurity(kind.uid), runAsGroup: kind.uid },
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: ADDON_VOLUME, labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(input.settings.storageClass ? { storageClassName: input.settings.storageClass } : {}),
            resources: { requests: { storage: addon.storage } },
          },
        },
      ],
    },
  };
}

function addonService(name: string, addon: PreviewAddon, metadata: V1Service['metadata']): V1Service {
  const port = ADDON_KINDS[addon.type].port;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: { type: 'ClusterIP', selector: { [LABELS.addon]: name }, ports: [{ name: 'addon', port, targetPort: 'addon', protocol: 'TCP' }] },
  };
}

/**
 * An add-on's Secret `<addon>-credentials`: created once with a generated password, never applied again, so the
 * data made with it stays reachable across pushes.
 */
export function addonSecret(name: string, addon: PreviewAddon, namespace: string, environmentId: number, instance: string, password: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: addonCredentialsSecret(name), namespace, labels: { ...ownerLabels(environmentId, instance), [LABELS.addon]: name } },
    type: 'Opaque',
    stringData: {
      [ADDON_SECRET_KEYS.username]: ADDON_USER,
      [ADDON_SECRET_KEYS.password]: password,
      [ADDON_SECRET_KEYS.database]: ADDON_USER,
      [ADDON_SECRET_KEYS.url]: ADDON_KINDS[addon.type].url(name, password),
    },
  };
}

/** How long a finished job run's Job (and its pod, with its log) stays in the namespace. */
export const JOB_TTL_SECONDS = 3600;

/** One run of a job: a Job of one pod, not retried, stopped at its `timeout_seconds`. */
export function jobManifest(input: PreviewManifestInput, job: string, spec: PreviewJob, runName: string): V1Job {
  const labels = { ...ownerLabels(input.environmentId, input.settings.instance), [LABELS.job]: job };
  const container = appContainer(job, spec, input);
  const pullSecret = input.settings.imagePullSecretName && needsPullSecret([container.image!], input.settings.imagePullSecretRegistries);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: runName, namespace: input.namespace, labels, annotations: { [ANNOTATIONS.commit]: input.commitSha } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: spec.timeout_seconds,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
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

/**
 * The kinds an environment's objects come in inside its namespace, for pruning what a new configuration dropped.
 * `recordedOnly`: pruned by the namespace's record alone, never listed for a namespace without one (those predate
 * the kind, and a cluster without the Gateway API answers a list of HTTPRoutes with 404).
 */
export const PRUNABLE_KINDS: ReadonlyArray<{ apiVersion: string; kind: string; recordedOnly?: true }> = [
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', recordedOnly: true },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'ResourceQuota' },
  { apiVersion: 'v1', kind: 'LimitRange' },
];
