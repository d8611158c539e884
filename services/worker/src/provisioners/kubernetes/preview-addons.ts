import type { KubernetesObject, V1Container, V1EnvVar, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { addonCredentialsSecret, type AddonType, type PreviewAddon, type PreviewConfig } from '@ephemera/schema';
import type { PreviewManifestSettings } from './kubernetes-settings.js';
import { LABELS, ownerLabels, type PreviewMetadata } from './preview-labels.js';
import { containerSecurity, previewPodBase } from './preview-pod.js';

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
 * The official images' own non-root user (and group) in the postgres, mysql and redis images: each add-on runs as
 * it, its volume group-owned through `fsGroup`.
 */
const IMAGE_UID = 999;

/** How an add-on type runs, and how the preview's services reach it. */
interface AddonKind {
  port: number;
  mountPath: string;
  /**
   * The image's variables for the password (from the add-on's Secret) and, for a SQL server, for the user and the
   * database it makes (`app`); its URL is then `<type>://app:<password>@<addon>:<port>/app`, else
   * `<type>://:<password>@<addon>:<port>/0`.
   */
  variables: { password: string; user?: string; database?: string };
  /** More of the image's variables. */
  env?: V1EnvVar[];
  args?: string[];
  readiness: NonNullable<V1Container['readinessProbe']>;
}

/**
 * How each add-on type runs in a namespace of Pod Security `restricted`: as the image's own non-root user
 * ({@link IMAGE_UID}), and with its data in a directory of its own inside the volume (a fresh volume may hold
 * `lost+found`, which initdb and mysqld refuse).
 */
const ADDON_KINDS: Record<AddonType, AddonKind> = {
  postgres: {
    port: 5432,
    mountPath: '/var/lib/postgresql/data',
    variables: { user: 'POSTGRES_USER', database: 'POSTGRES_DB', password: 'POSTGRES_PASSWORD' },
    env: [{ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' }],
    readiness: { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-U', ADDON_USER, '-d', ADDON_USER] } },
  },
  mysql: {
    port: 3306,
    mountPath: '/var/lib/mysql',
    variables: { user: 'MYSQL_USER', database: 'MYSQL_DATABASE', password: 'MYSQL_PASSWORD' },
    env: [{ name: 'MYSQL_RANDOM_ROOT_PASSWORD', value: 'yes' }],
    args: ['--datadir=/var/lib/mysql/data'],
    // Over TCP: the server the entrypoint starts while initialising listens on no port, so it is not taken for ready.
    readiness: { exec: { command: ['mysqladmin', 'ping', '-h', '127.0.0.1'] } },
  },
  redis: {
    port: 6379,
    mountPath: '/data',
    variables: { password: 'REDIS_PASSWORD' },
    args: ['redis-server', '--appendonly', 'yes', '--requirepass', '$(REDIS_PASSWORD)'],
    readiness: { tcpSocket: { port: 'addon' } },
  },
};

/** The add-on's image variables: the user and database `app` of a SQL server, the password by reference to its Secret. */
function addonEnv(kind: AddonKind, secret: string): V1EnvVar[] {
  const { user, database, password } = kind.variables;
  return [
    ...(user ? [{ name: user, value: ADDON_USER }] : []),
    ...(database ? [{ name: database, value: ADDON_USER }] : []),
    { name: password, valueFrom: { secretKeyRef: { name: secret, key: ADDON_SECRET_KEYS.password } } },
    ...(kind.env ?? []),
  ];
}

/** The URL an add-on is reached at from the preview's pods. */
function addonUrl(type: AddonType, host: string, password: string): string {
  const kind = ADDON_KINDS[type];
  const sql = kind.variables.user !== undefined;
  return `${type}://${sql ? ADDON_USER : ''}:${password}@${host}:${kind.port}/${sql ? ADDON_USER : '0'}`;
}

/** The StatefulSet and the Service of each add-on of the configuration. */
export function addonManifests(config: PreviewConfig, settings: PreviewManifestSettings, meta: (name: string) => PreviewMetadata): KubernetesObject[] {
  return Object.entries(config.addons ?? {}).flatMap(([name, addon]) => [addonStatefulSet(name, addon, settings, meta(name)), addonService(name, addon, meta(name))]);
}

/** Each add-on's URL, in its `url_env`, from its Secret: never written into a spec. */
export function addonUrlEnv(config: PreviewConfig): V1EnvVar[] {
  return Object.entries(config.addons ?? {}).map(([name, addon]) => ({
    name: addon.url_env,
    valueFrom: { secretKeyRef: { name: addonCredentialsSecret(name), key: ADDON_SECRET_KEYS.url } },
  }));
}

/** An add-on: one pod of the official image (or the operator's mirror) with a volume of `storage`, never restarted by a push. */
function addonStatefulSet(name: string, addon: PreviewAddon, settings: PreviewManifestSettings, metadata: PreviewMetadata): V1StatefulSet {
  const kind = ADDON_KINDS[addon.type];
  const image = settings.PREVIEW_ADDON_IMAGES[addon.type].replaceAll('{{version}}', addon.version);
  const labels = { ...metadata.labels, [LABELS.addon]: name };
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
          ...previewPodBase([image], settings),
          securityContext: { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, fsGroup: IMAGE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: addon.type,
              image,
              ...(kind.args ? { args: kind.args } : {}),
              ports: [{ name: 'addon', containerPort: kind.port, protocol: 'TCP' }],
              env: addonEnv(kind, addonCredentialsSecret(name)),
              readinessProbe: { ...kind.readiness, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
              volumeMounts: [{ name: ADDON_VOLUME, mountPath: kind.mountPath }],
              securityContext: { ...containerSecurity(IMAGE_UID), runAsGroup: IMAGE_UID },
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: ADDON_VOLUME, labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(settings.PREVIEW_STORAGE_CLASS ? { storageClassName: settings.PREVIEW_STORAGE_CLASS } : {}),
            resources: { requests: { storage: addon.storage } },
          },
        },
      ],
    },
  };
}

function addonService(name: string, addon: PreviewAddon, metadata: PreviewMetadata): V1Service {
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
      [ADDON_SECRET_KEYS.url]: addonUrl(addon.type, name, password),
    },
  };
}
