import { z } from 'zod';
import { MAX_TIMEOUT_SECONDS, containerFields, objectName } from './preview-container.js';

export const JOB_WHEN = ['before_deploy', 'after_create'] as const;
export type JobWhen = (typeof JOB_WHEN)[number];
export const DEFAULT_JOB_TIMEOUT_SECONDS = 600;
export const MAX_JOBS = 20;
/** The longest deployment id a job run's name leaves room for (`<job>-<short sha>-<deployment id>`). */
export const MAX_DEPLOYMENT_ID_DIGITS = 14;
// A run is the Job `<job>-<7 hex>-<deployment id>`, whose name is also a label value on its pods (≤ 63):
// 40 + 1 + 7 + 1 + 14 = 63.
export const MAX_JOB_NAME_LENGTH = 63 - 1 - 7 - 1 - MAX_DEPLOYMENT_ID_DIGITS;
export const jobName = objectName(MAX_JOB_NAME_LENGTH, 'each run is the Job <name>-<short sha>-<deployment id>');

export const previewJobSchema = z
  .strictObject({
    ...containerFields,
    when: z
      .enum(JOB_WHEN, { error: (iss) => (iss.input === undefined ? `required: ${JOB_WHEN.join(' or ')}` : `one of ${JOB_WHEN.join(', ')}`) })
      .describe('before_deploy: on every deploy, after the add-ons are ready and before the services roll; after_create: once per environment, after its first successful rollout'),
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_TIMEOUT_SECONDS)
      .default(DEFAULT_JOB_TIMEOUT_SECONDS)
      .describe('How long one run may take (activeDeadlineSeconds)'),
  })
  .describe('A Kubernetes Job run to completion, named after the key');

export type PreviewJob = z.infer<typeof previewJobSchema>;

/** The name of one run of a job: `<job>-<short sha>-<deployment id>`, at most 63 characters for a valid job name. */
export function jobRunName(job: string, shortSha: string, deploymentId: string | number): string {
  const name = `${job}-${shortSha.slice(0, 7).toLowerCase()}-${deploymentId}`;
  if (name.length > 63) throw new Error(`job run name ${name} is longer than 63 characters`);
  return name;
}
