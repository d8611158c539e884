import type { KubernetesObject, V1Deployment, V1Job } from '@kubernetes/client-node';
import { ProvisionError } from '../provisioner.js';

/** `*` matches any text (slashes and colons included); the pattern covers the whole image reference. */
function globMatches(pattern: string, image: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(image);
}

/** Whether PREVIEW_IMAGE_ALLOWED lets `image` run; no patterns: any image. */
export function imageAllowed(image: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => globMatches(p, image));
}

/**
 * The registry host of an image reference, as container runtimes read it: the first path component when it looks
 * like a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
 */
export function registryHost(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

const imagesOf = (w: V1Deployment | V1Job) => [...(w.spec?.template.spec?.initContainers ?? []), ...(w.spec?.template.spec?.containers ?? [])].map((c) => c.image ?? '');

/** Where a workload's image comes from in `.ephemera.yml`: a Deployment is a service, a Job a job. */
const CHECKED: Record<string, string> = { Deployment: 'services', Job: 'jobs' };

/**
 * Refuses a deployment, before anything is applied, when one of its rendered images (services and jobs alike) is
 * outside PREVIEW_IMAGE_ALLOWED. A Job is checked under its job's name (`jobs.<name>.image`).
 */
export function checkImages(manifests: readonly KubernetesObject[], patterns: readonly string[]): void {
  if (patterns.length === 0) return;
  for (const obj of manifests) {
    const section = CHECKED[obj.kind ?? ''];
    if (section === undefined) continue;
    const refused = imagesOf(obj as V1Deployment | V1Job).find((image) => !imageAllowed(image, patterns));
    if (refused !== undefined) {
      throw new ProvisionError(
        `${section}.${obj.metadata!.name}.image ${refused} is not an image this installation runs (PREVIEW_IMAGE_ALLOWED: ${patterns.join(', ')})`,
        false,
      );
    }
  }
}

/** Whether a pod with these images gets the image pull secret: no registry list means every pod (as before the list). */
export function needsPullSecret(images: readonly string[], registries: readonly string[] | undefined): boolean {
  return registries === undefined || images.some((image) => registries.includes(registryHost(image)));
}
