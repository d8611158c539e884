import { isIP } from 'node:net';
import { env } from '@ephemera/runtime';
import { ADDON_TYPES, MAX_REPLICAS_FORMAT, storageBytes, type AddonType } from '@ephemera/schema';
import { z } from 'zod';

// The settings of the Kubernetes provisioner (PROVISIONER=kubernetes), part of the worker's configuration schema.

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label').max(63);
const labelValue = z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must be a Kubernetes label value').max(63);
const cpuQuantity = z.string().regex(/^(\d+m|\d+(\.\d{1,3})?)$/, 'must be a CPU quantity such as 500m or 2');
const memoryQuantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a memory quantity such as 256Mi or 4Gi');
const namespacedName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be namespace/name')
  .transform((v) => {
    const [namespace, name] = v.split('/') as [string, string];
    return { namespace, name };
  });
const secretRef = namespacedName;
/** A Gateway listener's name (the Gateway API's SectionName: a DNS-1123 subdomain). */
const sectionName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Gateway listener name (a DNS-1123 subdomain)')
  .max(253);

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

/** The Kubernetes provisioner's variables, with their validation and defaults. */
export const kubernetesConfigFields = {
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
  /** How a preview's URL reaches it: an Ingress, or an HTTPRoute on PREVIEW_GATEWAY. */
  PREVIEW_ROUTING: z.enum(['ingress', 'gateway']).default('ingress'),
  /** `namespace/name` of the Gateway preview HTTPRoutes attach to (PREVIEW_ROUTING=gateway). */
  PREVIEW_GATEWAY: namespacedName.optional(),
  /** The Gateway listener (its `name`) preview HTTPRoutes attach to; unset: every listener that admits them. */
  PREVIEW_GATEWAY_SECTION: sectionName.optional(),
  /** The namespace of the Gateway's data plane, let into previews by their NetworkPolicy; unset: the Gateway's namespace. */
  PREVIEW_GATEWAY_NAMESPACE: dnsLabel.optional(),
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
};
