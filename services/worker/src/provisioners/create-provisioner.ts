import { githubWebUrl, previewGateway, previewTlsMode, type WorkerConfig } from '../config.js';
import type { InstallationClients } from '../github/installation-clients.js';
import type { AccessCheckResult } from './kubernetes/access-check.js';
import { KubeApi } from './kubernetes/kube-api.js';
import { KubernetesProvisioner } from './kubernetes/kubernetes-provisioner.js';
import { NoneProvisioner } from './none-provisioner.js';
import { GithubConfigSource } from './preview-config-source.js';
import type { Provisioner } from './provisioner.js';

/**
 * The provisioner PROVISIONER names. The Kubernetes one checks its access before it is returned, so a worker
 * that cannot reach the cluster, or lacks a permission, stops at start with the reason.
 */
export async function createProvisioner(
  config: WorkerConfig,
  clients: InstallationClients | undefined,
  onAccess: (access: AccessCheckResult) => void = () => {},
): Promise<Provisioner> {
  if (config.PROVISIONER === 'none') return new NoneProvisioner(config.PROVISIONER_DELAY_MS);
  if (!clients) throw new Error('PROVISIONER=kubernetes needs the GitHub App credentials to read .ephemera.yml');
  const api = new KubeApi({ kubeconfigPath: config.KUBECONFIG, context: config.KUBE_CONTEXT, requestTimeoutMs: config.KUBE_REQUEST_TIMEOUT_MS });
  const provisioner = new KubernetesProvisioner({
    api,
    configs: new GithubConfigSource(clients, { maxReplicas: config.PREVIEW_MAX_REPLICAS, maxAddonStorage: config.PREVIEW_MAX_ADDON_STORAGE }),
    instance: config.EPHEMERA_INSTANCE,
    baseDomain: config.PREVIEW_BASE_DOMAIN,
    urlScheme: config.PREVIEW_URL_SCHEME,
    quota: { cpu: config.PREVIEW_QUOTA_CPU, memory: config.PREVIEW_QUOTA_MEMORY, pods: config.PREVIEW_QUOTA_PODS },
    defaults: { cpu: config.PREVIEW_DEFAULT_CPU, memory: config.PREVIEW_DEFAULT_MEMORY },
    ingressNamespace: config.INGRESS_NAMESPACE,
    ingressClass: config.INGRESS_CLASS,
    gateway: previewGateway(config),
    tlsSecret: config.PREVIEW_TLS_SECRET,
    tlsMode: previewTlsMode(config),
    tlsIssuer: config.PREVIEW_TLS_ISSUER,
    imagePullSecret: config.PREVIEW_IMAGE_PULL_SECRET,
    imagePullSecretRegistries: config.PREVIEW_IMAGE_PULL_SECRET_REGISTRIES,
    imageAllowed: config.PREVIEW_IMAGE_ALLOWED,
    podSecurity: config.PREVIEW_POD_SECURITY,
    egressDenyCidrs: config.PREVIEW_EGRESS_DENY_CIDRS,
    egressAllowCidrs: config.PREVIEW_EGRESS_ALLOW_CIDRS,
    defaultEphemeralStorage: config.PREVIEW_DEFAULT_EPHEMERAL_STORAGE,
    quotaEphemeralStorage: config.PREVIEW_QUOTA_EPHEMERAL_STORAGE,
    quotaStorage: config.PREVIEW_QUOTA_STORAGE,
    storageClass: config.PREVIEW_STORAGE_CLASS,
    addonImages: config.PREVIEW_ADDON_IMAGES,
    secretsNamespace: config.PREVIEW_SECRETS_NAMESPACE,
    secretsAllowed: config.PREVIEW_SECRETS_ALLOWED,
    kubeSubject: config.EPHEMERA_KUBE_SUBJECT,
    destroyTimeoutSeconds: config.DESTROY_TIMEOUT_SECONDS,
    crashRestarts: config.PREVIEW_CRASH_RESTARTS,
    resyncSeconds: config.KUBE_RESYNC_SECONDS,
    githubWebUrl: githubWebUrl(config.GITHUB_API_URL),
  });
  onAccess(await provisioner.checkAccess());
  return provisioner;
}
