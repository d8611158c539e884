import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { needsPullSecret } from './image-policy.js';
import type { PreviewManifestSettings } from './kubernetes-settings.js';

/** What every container Ephemera writes runs with: the Pod Security `restricted` profile's container rules. */
export function containerSecurity(runAsUser: number | undefined): NonNullable<V1Container['securityContext']> {
  return {
    runAsNonRoot: true,
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * What every pod of a preview (a service's, an add-on's, a job run's) has besides its containers: no service account
 * token and no service links, and the Secret copied from PREVIEW_IMAGE_PULL_SECRET when one of its images needs it.
 */
export function previewPodBase(
  images: readonly string[],
  settings: Pick<PreviewManifestSettings, 'PREVIEW_IMAGE_PULL_SECRET' | 'PREVIEW_IMAGE_PULL_SECRET_REGISTRIES'>,
): Pick<V1PodSpec, 'automountServiceAccountToken' | 'enableServiceLinks' | 'imagePullSecrets'> {
  const pullSecret = settings.PREVIEW_IMAGE_PULL_SECRET;
  const pulls = pullSecret !== undefined && needsPullSecret(images, settings.PREVIEW_IMAGE_PULL_SECRET_REGISTRIES);
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...(pulls ? { imagePullSecrets: [{ name: pullSecret.name }] } : {}),
  };
}
