import type { WorkerConfig } from '../../config.js';

/**
 * The worker's configuration a preview's objects are rendered from, as config.ts parsed it: every default is the
 * schema's, so nothing here fills one in again.
 */
export type PreviewManifestSettings = Pick<
  WorkerConfig,
  | 'EPHEMERA_INSTANCE'
  | 'PREVIEW_QUOTA_CPU'
  | 'PREVIEW_QUOTA_MEMORY'
  | 'PREVIEW_QUOTA_PODS'
  | 'PREVIEW_DEFAULT_CPU'
  | 'PREVIEW_DEFAULT_MEMORY'
  | 'PREVIEW_DEFAULT_EPHEMERAL_STORAGE'
  | 'PREVIEW_QUOTA_EPHEMERAL_STORAGE'
  | 'PREVIEW_QUOTA_STORAGE'
  | 'PREVIEW_STORAGE_CLASS'
  | 'PREVIEW_ADDON_IMAGES'
  | 'PREVIEW_POD_SECURITY'
  | 'PREVIEW_EGRESS_DENY_CIDRS'
  | 'PREVIEW_EGRESS_ALLOW_CIDRS'
  | 'PREVIEW_IMAGE_PULL_SECRET'
  | 'PREVIEW_IMAGE_PULL_SECRET_REGISTRIES'
  | PreviewRoutingKey
>;

/** What decides how a preview's URL reaches it (PREVIEW_ROUTING and the settings of the Ingress or the Gateway). */
export type PreviewRoutingKey =
  | 'PREVIEW_ROUTING'
  | 'PREVIEW_GATEWAY'
  | 'PREVIEW_GATEWAY_SECTION'
  | 'PREVIEW_GATEWAY_NAMESPACE'
  | 'INGRESS_NAMESPACE'
  | 'INGRESS_CLASS'
  | 'PREVIEW_URL_SCHEME'
  | 'PREVIEW_TLS_MODE'
  | 'PREVIEW_TLS_SECRET'
  | 'PREVIEW_TLS_ISSUER';

/**
 * The worker's configuration the Kubernetes provisioner reads: the parsed WorkerConfig (or a test's) passes whole.
 * GITHUB_API_URL gives where pull requests are shown (https://github.com, or a GitHub Enterprise Server).
 */
export type KubernetesSettings = PreviewManifestSettings &
  Pick<
    WorkerConfig,
    | 'PREVIEW_BASE_DOMAIN'
    | 'PREVIEW_IMAGE_ALLOWED'
    | 'PREVIEW_SECRETS_NAMESPACE'
    | 'PREVIEW_SECRETS_ALLOWED'
    | 'EPHEMERA_KUBE_SUBJECT'
    | 'DESTROY_TIMEOUT_SECONDS'
    | 'PREVIEW_CRASH_RESTARTS'
    | 'KUBE_RESYNC_SECONDS'
    | 'GITHUB_API_URL'
  >;

/** The provisioner's sense of time, which is not configuration: tests run it faster. */
export interface ProvisionerClock {
  /** How often a rollout or a deletion is checked. */
  pollMs: number;
  /** How long one configured second lasts (timeouts). */
  secondMs: number;
}

export const REAL_CLOCK: ProvisionerClock = { pollMs: 2_000, secondMs: 1_000 };
