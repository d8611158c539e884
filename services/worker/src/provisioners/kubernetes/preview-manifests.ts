import type { KubernetesObject } from '@kubernetes/client-node';
import { addonManifests } from './preview-addons.js';
import { previewFences } from './preview-fences.js';
import { ownerLabels, type PreviewMetadata } from './preview-labels.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { previewRoute, previewRouting, ROUTE_NAME } from './preview-route.js';
import { workloadManifests } from './preview-workload.js';

/**
 * Everything applied for one environment, in the order it is applied: the namespace and its fences first
 * (quota, default limits, network isolation), then the add-ons and the repository's services, then the Ingress or
 * HTTPRoute. Copied Secrets are built apart (preview-secrets.ts), since their data is read from the cluster.
 */
export function previewManifests(input: PreviewManifestInput): KubernetesObject[] {
  const labels = ownerLabels(input.environmentId, input.settings.EPHEMERA_INSTANCE);
  const meta = (name: string): PreviewMetadata => ({ name, namespace: input.namespace, labels: { ...labels } });
  const routing = previewRouting(input.settings);
  return [
    ...previewFences(input, routing, meta),
    ...addonManifests(input.config, input.settings, meta),
    ...workloadManifests(input, meta),
    previewRoute(routing, input.host, input.config, meta(ROUTE_NAME)),
  ];
}
