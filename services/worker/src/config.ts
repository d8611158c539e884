import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, env, parseConfig } from '@ephemera/runtime';
import { ADDON_TYPES, MAX_REPLICAS_FORMAT, allowedAccountsProblem, allowedAccountsSchema, storageBytes, type AddonType } from '@ephemera/schema';
import { z } from 'zod';

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label').max(63);
const labelValue = z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must be a Kubernetes label value').max(63);
const cpuQuantity = z.string().regex(/^(\d+m|\d+(\.\d{1,3})?)$/, 'must be a CPU quantity such as 500m or 2');
const memoryQuantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a memory quantity such as 256Mi or 4Gi');
const secretRef = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be namespace/name')
  .transform((v) => {
    const [namespace, name] = v.split('/') as [string, string];
    return { namespace, name };
  });

/** Defaults of the preview fences, written once: the schema below and the provisioner (when an option is left out) use them. */
export const PREVIEW_FENCE_DEFAULTS = {
  /** Private, carrier-grade NAT, link-local (cloud metadata) and their IPv6 counterparts. */
  egressDenyCidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'],
  egressAllowCidrs: [] as string[],
  podSecurity: 'restricted',
  defaultEphemeralStorage: '1Gi',
  quotaEphemeralStorage: '4Gi',
  /** The quota's `requests.storage`: what the preview's add-on volumes may claim in all. */
  quotaStorage: '20Gi',
  /** The largest `storage` one add-on may ask for. */
  maxAddonStorage: '10Gi',
} as const;

/** The image of each add-on type, `{{version}}` replaced by the add-on's version: the official images by default. */
export const DEFAULT_ADDON_IMAGES: Readonly<Record<AddonType, string>> = {
  postgres: 'docker.io/library/postgres:{{version}}',
  mysql: 'docker.io/library/mysql:{{version}}',
  redis: 'docker.io/library/redis:{{version}}',
};

/** PREVIEW_ADDON_IMAGES: a JSON object of add-on type to image, each with `{{version}}`; types left out keep their default. */
const addonImages = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return { ...DEFAULT_ADDON_IMAGES };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"postgres":"registry.example.com/postgres:{{version}}"}' });
      return z.NEVER;
    }
    const parsed = z
      .partialRecord(z.enum(ADDON_TYPES), z.string().regex(/^\S+\{\{version\}\}\S*$|^\S*\{\{version\}\}\S+$/, 'must be an image containing {{version}}'))
      .safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: `must map ${ADDON_TYPES.join(', ')} to images containing {{version}}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'value'} ${i.message}`).join('; ')}` });
      return z.NEVER;
    }
    return { ...DEFAULT_ADDON_IMAGES, ...parsed.data } as Record<AddonType, string>;
  });

export type PreviewTlsMode = 'default-certificate' | 'cert-manager' | 'copy' | 'none';

/** `a.b.c.d/n` or an IPv6 address with `/n`, the prefix within the family's length. */
export function isCidr(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const cidrList = (fallback: readonly string[]) =>
  env
    .list()
    .refine((list) => list.every(isCidr), { message: 'must be comma-separated CIDRs such as 10.0.0.0/8 or fc00::/7' })
    .default([...fallback]);

export const workerConfigSchema = z.object({
  DATABASE_URL: env.databaseUrl(),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  /**
   * Distinct statements each database connection keeps prepared, so the hot path is parsed and planned once per
   * connection rather than on every event; 0 for a connection pooler in transaction mode without prepared-statement
   * support.
   */
  DATABASE_PREPARED_STATEMENTS: z.coerce.number().int().min(0).max(10_000).default(200),
  REDIS_URL: env.redisUrl(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('ephemera'),
  /** Every job is verified with it (and signed with it when the worker queues one): a job without a valid signature is refused. */
  QUEUE_SIGNING_KEY: env.queueSigningKey(),
  /** The key before a rotation, still accepted when verifying (never used to sign). */
  QUEUE_SIGNING_KEY_PREVIOUS: env.queueSigningKey().optional(),
  /**
   * GitHub accounts (logins, any case) served, or `*` for every account; as ingest reads it. Every job and every pass
   * (resync, redelivery, sweeps) applies it. Unset: every account, refused in production.
   */
  ALLOWED_ACCOUNTS: env.list().pipe(allowedAccountsSchema).optional(),
  WORKER_PORT: env.port(3003),
  /** Jobs of each queue processed at once by this process. */
  WORKER_CONCURRENCY: env.positiveInt(8),
  /** How long a job's lock lasts without renewal: a killed worker's job is picked up again after about this long. */
  WORKER_LOCK_MS: env.positiveInt(30_000),
  /** How often a job may lose its worker (a crash, a kill) and be taken up again before it fails. */
  WORKER_MAX_STALLED_COUNT: env.positiveInt(3),
  /** How long a pull request's feedback waits for more of its changes before reporting (a burst ends in one report). */
  FEEDBACK_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** On SIGTERM, running jobs get this long to finish before the process exits (BullMQ retries the rest). */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(25_000),

  PREVIEW_BASE_DOMAIN: z.string().min(1).default('preview.localhost'),
  /** When set, only pull requests carrying this label get a preview; removing it destroys the preview. */
  PREVIEW_LABEL: z.string().min(1).optional(),
  /** The label a maintainer adds to let a pull request from a fork run its preview. */
  PREVIEW_APPROVE_LABEL: z.string().min(1).default('preview-approved'),
  /**
   * How a maintainer approves a fork's commit: `review` (an approving pull request review approves the commit it was
   * made on), `label` (PREVIEW_APPROVE_LABEL approves the head when it lands), or `both`.
   */
  FORK_APPROVAL: z.enum(['review', 'label', 'both']).default('both'),

  PROVISIONER: z.enum(['none', 'kubernetes']).default('none'),
  /** How long each simulated step of the `none` provisioner takes. */
  PROVISIONER_DELAY_MS: z.coerce.number().int().min(0).default(500),
  /** Attempts of a provisioning step before the environment is FAILED. */
  PROVISION_ATTEMPTS: env.positiveInt(5),
  /** Environments alive at once per repository (0: no limit); a pull request over it waits its turn. */
  MAX_ENVIRONMENTS_PER_REPO: z.coerce.number().int().min(0).default(0),
  PREVIEW_URL_SCHEME: z.enum(['https', 'http']).default('https'),

  // The Kubernetes provisioner (PROVISIONER=kubernetes).
  /** A kubeconfig file; unset: the in-cluster service account. */
  KUBECONFIG: z.string().min(1).optional(),
  KUBE_CONTEXT: z.string().min(1).optional(),
  KUBE_REQUEST_TIMEOUT_MS: env.positiveInt(30_000),
  /**
   * The worker's Kubernetes username, which each preview namespace's RoleBinding names; unset: asked of the API
   * server (SelfSubjectReview, Kubernetes 1.28+).
   */
  EPHEMERA_KUBE_SUBJECT: z.string().regex(/^[^\s]+$/, 'must be a Kubernetes username (system:serviceaccount:<namespace>:<name> for a ServiceAccount)').optional(),
  /** Tells this installation's objects from another's in a shared cluster (a label value). */
  EPHEMERA_INSTANCE: labelValue.default('default'),
  PREVIEW_QUOTA_CPU: cpuQuantity.default('2'),
  PREVIEW_QUOTA_MEMORY: memoryQuantity.default('4Gi'),
  PREVIEW_QUOTA_PODS: env.positiveInt(20),
  PREVIEW_DEFAULT_CPU: cpuQuantity.default('250m'),
  PREVIEW_DEFAULT_MEMORY: memoryQuantity.default('256Mi'),
  /** LimitRange default (request = limit) of `ephemeral-storage` for every container. */
  PREVIEW_DEFAULT_EPHEMERAL_STORAGE: memoryQuantity.default(PREVIEW_FENCE_DEFAULTS.defaultEphemeralStorage),
  /** The quota's `requests.ephemeral-storage` and `limits.ephemeral-storage`. */
  PREVIEW_QUOTA_EPHEMERAL_STORAGE: memoryQuantity.default(PREVIEW_FENCE_DEFAULTS.quotaEphemeralStorage),
  /** The StorageClass of add-on volumes; unset: the cluster's default class. */
  PREVIEW_STORAGE_CLASS: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a StorageClass name').max(253).optional(),
  /** The quota's `requests.storage` (and its `persistentvolumeclaims` count follows the add-ons). */
  PREVIEW_QUOTA_STORAGE: memoryQuantity.default(PREVIEW_FENCE_DEFAULTS.quotaStorage),
  /** The largest `storage` an add-on of `.ephemera.yml` may ask for. */
  PREVIEW_MAX_ADDON_STORAGE: memoryQuantity
    .refine((q) => (storageBytes(q) ?? 0) >= 1, 'must be more than 0')
    .default(PREVIEW_FENCE_DEFAULTS.maxAddonStorage),
  /** The image of each add-on type (JSON: type to image with `{{version}}`), for a mirror; types left out: the official image. */
  PREVIEW_ADDON_IMAGES: addonImages,
  /** The preview namespace's enforced Pod Security level; `.ephemera.yml` cannot lower it. */
  PREVIEW_POD_SECURITY: z.enum(['restricted', 'baseline']).default(PREVIEW_FENCE_DEFAULTS.podSecurity),
  /** Destinations a preview's pods may not reach (everything else on the internet they may). */
  PREVIEW_EGRESS_DENY_CIDRS: cidrList(PREVIEW_FENCE_DEFAULTS.egressDenyCidrs),
  /** Destinations allowed even inside PREVIEW_EGRESS_DENY_CIDRS (a shared staging API). */
  PREVIEW_EGRESS_ALLOW_CIDRS: cidrList(PREVIEW_FENCE_DEFAULTS.egressAllowCidrs),
  /** Image patterns previews may run (`*` matches any text); empty: any image. */
  PREVIEW_IMAGE_ALLOWED: env.list().default([]),
  /** Registry hosts whose images get the image pull secret; unset: every image. */
  PREVIEW_IMAGE_PULL_SECRET_REGISTRIES: env.list().optional(),
  PREVIEW_MAX_REPLICAS: z.coerce.number().int().min(1).max(MAX_REPLICAS_FORMAT).default(3),
  INGRESS_NAMESPACE: dnsLabel.default('ingress-nginx'),
  INGRESS_CLASS: z.string().min(1).optional(),
  /** `namespace/name` of a TLS Secret (a wildcard certificate) copied into every preview. */
  PREVIEW_TLS_SECRET: secretRef.optional(),
  /** How the preview's Ingress gets its certificate; default from PREVIEW_TLS_SECRET and PREVIEW_URL_SCHEME ({@link previewTlsMode}). */
  PREVIEW_TLS_MODE: z.enum(['default-certificate', 'cert-manager', 'copy', 'none']).optional(),
  /** The cert-manager ClusterIssuer of PREVIEW_TLS_MODE=cert-manager. */
  PREVIEW_TLS_ISSUER: z.string().min(1).optional(),
  /** `namespace/name` of an image pull Secret copied into every preview and used by its pods. */
  PREVIEW_IMAGE_PULL_SECRET: secretRef.optional(),
  /** Where the Secrets that `secret_env` may name live, and which of them previews may have. */
  PREVIEW_SECRETS_NAMESPACE: dnsLabel.optional(),
  PREVIEW_SECRETS_ALLOWED: env.list().default([]),
  DESTROY_TIMEOUT_SECONDS: env.positiveInt(600),
  /** Restarts of a current pod's container before a crash loop fails the rollout (an app may exit while its database starts). */
  PREVIEW_CRASH_RESTARTS: z.coerce.number().int().min(1).max(100).default(3),
  /** How often a rollout's Deployments are listed again besides being watched, in case a watch missed a change. */
  KUBE_RESYNC_SECONDS: z.coerce.number().int().min(5).max(3_600).default(60),

  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  /** PEM text, or the path of a PEM file. */
  GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  GITHUB_API_URL: z.url().default('https://api.github.com'),
  /** Every request to GitHub is abandoned after this long. */
  GITHUB_REQUEST_TIMEOUT_MS: env.positiveInt(10_000),
  /** How long GitHub's answer about a person's permission on a repository is reused. */
  PERMISSION_CACHE_SECONDS: z.coerce.number().int().min(0).default(60),

  /**
   * The query service's public address (its dashboard): when set, each pull request's comment links the
   * environment's page there.
   */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),

  ENVIRONMENT_TTL_HOURS: z.coerce.number().positive().default(72),
  /** Minutes an environment may stay PROVISIONING, UPDATING or DESTROYING before cleanup retries its step. */
  STUCK_AFTER_MINUTES: z.coerce.number().positive().default(30),
  CLEANUP_INTERVAL_MS: env.positiveInt(5 * 60_000),
  /** How often lost deliveries are asked for again (0: never). */
  REDELIVERY_INTERVAL_MS: z.coerce.number().int().min(0).default(5 * 60_000),
  /**
   * How often deployments waiting for their commit's checks (`deploy.wait_for`) are looked at again, so a check event
   * that never arrived delays a deploy by at most this long (0: never; check events and each deadline still act).
   */
  GATE_POLL_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /** How often the state is resynchronised with GitHub's pull requests and installations (0: never). */
  RESYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(30 * 60_000),
  /** Delivery ids are remembered this long (a redelivery older than this would apply again). */
  DELIVERY_RETENTION_DAYS: env.positiveInt(14),
  /** A deployment's logs keep their newest this many bytes. */
  DEPLOYMENT_LOG_MAX_BYTES: env.positiveInt(262_144),
  /** Environments destroyed longer ago than this are deleted with their deployments (0: kept). */
  DESTROYED_RETENTION_DAYS: z.coerce.number().int().min(0).default(90),

  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
});

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export interface GithubAppCredentials {
  appId: number;
  privateKey: string;
}

export function loadWorkerConfig(environment: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const config = parseConfig(workerConfigSchema, environment);
  const accounts = allowedAccountsProblem(config);
  if (accounts) throw new ConfigError([accounts]);
  if ((config.GITHUB_APP_ID === undefined) !== (config.GITHUB_APP_PRIVATE_KEY === undefined)) {
    throw new Error('GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY go together: set both for GitHub feedback, or neither');
  }
  if (config.PROVISIONER === 'kubernetes' && config.GITHUB_APP_ID === undefined) {
    throw new Error('PROVISIONER=kubernetes reads each repository\'s .ephemera.yml with the GitHub App: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY');
  }
  if (config.PREVIEW_SECRETS_ALLOWED.length > 0 && !config.PREVIEW_SECRETS_NAMESPACE) {
    throw new Error('PREVIEW_SECRETS_ALLOWED needs PREVIEW_SECRETS_NAMESPACE, the namespace the allowed Secrets are copied from');
  }
  previewTlsMode(config);
  return config;
}

/**
 * PREVIEW_TLS_MODE, or its default: `copy` when PREVIEW_TLS_SECRET is set, else `default-certificate` for https URLs,
 * else `none`. Combinations that cannot work, or a variable the mode would ignore, are refused naming the variables.
 */
export function previewTlsMode(config: {
  PREVIEW_TLS_MODE?: PreviewTlsMode | undefined;
  PREVIEW_TLS_SECRET?: unknown;
  PREVIEW_TLS_ISSUER?: string | undefined;
  PREVIEW_URL_SCHEME: 'http' | 'https';
}): PreviewTlsMode {
  const mode = config.PREVIEW_TLS_MODE ?? (config.PREVIEW_TLS_SECRET ? 'copy' : config.PREVIEW_URL_SCHEME === 'https' ? 'default-certificate' : 'none');
  if (mode === 'copy' && !config.PREVIEW_TLS_SECRET) throw new Error('PREVIEW_TLS_MODE=copy needs PREVIEW_TLS_SECRET, the Secret copied into each preview');
  if (mode === 'cert-manager' && !config.PREVIEW_TLS_ISSUER) throw new Error('PREVIEW_TLS_MODE=cert-manager needs PREVIEW_TLS_ISSUER, the ClusterIssuer that issues each preview\'s certificate');
  if (mode !== 'copy' && config.PREVIEW_TLS_SECRET) throw new Error(`PREVIEW_TLS_SECRET is only read with PREVIEW_TLS_MODE=copy (PREVIEW_TLS_MODE=${mode}); unset one of them`);
  if (mode !== 'cert-manager' && config.PREVIEW_TLS_ISSUER) throw new Error(`PREVIEW_TLS_ISSUER is only used with PREVIEW_TLS_MODE=cert-manager (PREVIEW_TLS_MODE=${mode})`);
  // `none` with https stays allowed: TLS may end in front of the ingress controller (a cloud load balancer).
  return mode;
}

/** The App's credentials, with a key given as a file path read now; undefined when feedback is off. */
export function githubCredentials(config: WorkerConfig): GithubAppCredentials | undefined {
  if (config.GITHUB_APP_ID === undefined || config.GITHUB_APP_PRIVATE_KEY === undefined) return undefined;
  const key = config.GITHUB_APP_PRIVATE_KEY.includes('-----BEGIN')
    ? config.GITHUB_APP_PRIVATE_KEY.replace(/\\n/g, '\n')
    : readFileSync(config.GITHUB_APP_PRIVATE_KEY, 'utf8');
  return { appId: config.GITHUB_APP_ID, privateKey: key };
}

/** Where GitHub shows pull requests, from its API address (GitHub Enterprise Server: https://HOST/api/v3). */
export function githubWebUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com') return 'https://github.com';
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/api\/v3\/?$/, '').replace(/\/$/, '')}`;
}
