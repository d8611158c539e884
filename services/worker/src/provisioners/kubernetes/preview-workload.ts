import type { KubernetesObject, V1Deployment, V1Service } from '@kubernetes/client-node';
import type { PreviewService } from '@ephemera/schema';
import { appContainer } from './app-container.js';
import { ANNOTATIONS, LABELS, type PreviewMetadata } from './preview-labels.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { previewPodBase } from './preview-pod.js';

/** How long a preview's pod must stay ready before it counts as available (`minReadySeconds`). */
export const MIN_READY_SECONDS = 10;

/** The Deployment of each of the repository's services, and the Service of each that has a port. */
export function workloadManifests(input: PreviewManifestInput, meta: (name: string) => PreviewMetadata): KubernetesObject[] {
  return Object.entries(input.config.services).flatMap(([name, service]) => [
    deployment(name, service, input, meta(name)),
    ...(service.port !== undefined ? [clusterService(name, service.port, meta(name))] : []),
  ]);
}

function deployment(name: string, service: PreviewService, input: PreviewManifestInput, metadata: PreviewMetadata): V1Deployment {
  const container = appContainer(name, service, input);
  const podLabels = { ...metadata.labels, [LABELS.service]: name };
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
          ...previewPodBase([container.image!], input.settings),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
        },
      },
    },
  };
}

function clusterService(name: string, port: number, metadata: PreviewMetadata): V1Service {
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
