import type { V1Job } from '@kubernetes/client-node';
import type { PreviewJob } from '@ephemera/schema';
import { appContainer } from './app-container.js';
import { ANNOTATIONS, LABELS, ownerLabels } from './preview-labels.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { previewPodBase } from './preview-pod.js';

/** How long a finished job run's Job (and its pod, with its log) stays in the namespace. */
export const JOB_TTL_SECONDS = 3600;

/** One run of a job: a Job of one pod, not retried, stopped at its `timeout_seconds`. */
export function jobManifest(input: PreviewManifestInput, job: string, spec: PreviewJob, runName: string): V1Job {
  const labels = { ...ownerLabels(input.environmentId, input.settings.EPHEMERA_INSTANCE), [LABELS.job]: job };
  const container = appContainer(job, spec, input);
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
          ...previewPodBase([container.image!], input.settings),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
        },
      },
    },
  };
}
