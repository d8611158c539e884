import type { WorkerConfig } from '../config.js';
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
  const configs = new GithubConfigSource(clients, { maxReplicas: config.PREVIEW_MAX_REPLICAS, maxAddonStorage: config.PREVIEW_MAX_ADDON_STORAGE });
  const provisioner = new KubernetesProvisioner(config, { api, configs });
  onAccess(await provisioner.checkAccess());
  return provisioner;
}
