import type { KubernetesObject, V1LimitRange, V1Namespace, V1ResourceQuota } from '@kubernetes/client-node';
import { ANNOTATIONS, LABELS, ownerLabels, type PreviewMetadata } from './preview-labels.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { previewNetworkPolicy } from './preview-network-policy.js';
import { routerNamespace, type PreviewRouting } from './preview-route.js';

/** Fixed names of the per-namespace objects that are not the repository's services. */
const OBJECT_NAMES = {
  quota: 'ephemera-quota',
  limits: 'ephemera-defaults',
  networkPolicy: 'ephemera-isolation',
} as const;

/** The preview's namespace and its fences, in the order they are applied: quota, default limits, network isolation. */
export function previewFences(input: PreviewManifestInput, routing: PreviewRouting, meta: (name: string) => PreviewMetadata): KubernetesObject[] {
  const isolation = previewNetworkPolicy(meta(OBJECT_NAMES.networkPolicy), routerNamespace(routing), input.settings);
  return [previewNamespace(input), previewQuota(input, meta(OBJECT_NAMES.quota)), previewLimits(input, meta(OBJECT_NAMES.limits)), isolation];
}

function previewNamespace(input: PreviewManifestInput): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: input.namespace,
      labels: {
        ...ownerLabels(input.environmentId, input.settings.EPHEMERA_INSTANCE),
        [LABELS.pr]: String(input.prNumber),
        // The repository's code is untrusted: nothing privileged runs in a preview.
        'pod-security.kubernetes.io/enforce': input.settings.PREVIEW_POD_SECURITY,
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
      annotations: { [ANNOTATIONS.repository]: input.repositoryFullName, [ANNOTATIONS.pullRequestUrl]: input.pullRequestUrl },
    },
  };
}

function previewQuota({ settings, config }: PreviewManifestInput, metadata: PreviewMetadata): V1ResourceQuota {
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata,
    spec: {
      hard: {
        'requests.cpu': settings.PREVIEW_QUOTA_CPU,
        'limits.cpu': settings.PREVIEW_QUOTA_CPU,
        'requests.memory': settings.PREVIEW_QUOTA_MEMORY,
        'limits.memory': settings.PREVIEW_QUOTA_MEMORY,
        'requests.ephemeral-storage': settings.PREVIEW_QUOTA_EPHEMERAL_STORAGE,
        'limits.ephemeral-storage': settings.PREVIEW_QUOTA_EPHEMERAL_STORAGE,
        pods: String(settings.PREVIEW_QUOTA_PODS),
        // Add-on volumes: one claim each, and no more storage in all than the operator allows.
        'requests.storage': settings.PREVIEW_QUOTA_STORAGE,
        persistentvolumeclaims: String(Object.keys(config.addons ?? {}).length),
      },
    },
  };
}

/** Each container's default request and limit (equal), for those the file gives no `resources`. */
function previewLimits({ settings }: PreviewManifestInput, metadata: PreviewMetadata): V1LimitRange {
  const defaults = { cpu: settings.PREVIEW_DEFAULT_CPU, memory: settings.PREVIEW_DEFAULT_MEMORY, 'ephemeral-storage': settings.PREVIEW_DEFAULT_EPHEMERAL_STORAGE };
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata,
    spec: { limits: [{ type: 'Container', _default: defaults, defaultRequest: { ...defaults } }] },
  };
}
