/** The labels every object Ephemera creates carries; sweeps find their objects by them and touch nothing else. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'ephemera.dev/environment',
  instance: 'ephemera.dev/instance',
  pr: 'ephemera.dev/pr',
  service: 'ephemera.dev/service',
  addon: 'ephemera.dev/addon',
  job: 'ephemera.dev/job',
} as const;
export const MANAGED_BY = 'ephemera';
export const ANNOTATIONS = {
  repository: 'ephemera.dev/repository',
  pullRequestUrl: 'ephemera.dev/pull-request-url',
  commit: 'ephemera.dev/commit',
  /** Set by a redeploy, as `kubectl rollout restart` sets `kubectl.kubernetes.io/restartedAt`: the pods roll again. */
  restartedAt: 'ephemera.dev/restarted-at',
  copiedFrom: 'ephemera.dev/copied-from',
} as const;

/** The labels that mark an object as this environment's, for this installation of Ephemera. */
export function ownerLabels(environmentId: number, instance: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.environment]: String(environmentId), [LABELS.instance]: instance };
}

/** The selector of everything one environment owns. */
export function environmentSelector(environmentId: number, instance: string): string {
  return Object.entries(ownerLabels(environmentId, instance))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The selector of every namespace of this installation. */
export function instanceSelector(instance: string): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.instance}=${instance}`;
}

/** The metadata of an object of the preview: its name in the preview's namespace, under the environment's labels. */
export type PreviewMetadata = { name: string; namespace: string; labels: Record<string, string> };
