import { z } from 'zod';

export const ENVIRONMENT_STATUSES = [
  'PENDING',
  'PROVISIONING',
  'READY',
  'UPDATING',
  'DESTROYING',
  'DESTROYED',
  'FAILED',
] as const;
export const environmentStatusSchema = z.enum(ENVIRONMENT_STATUSES);
export type EnvironmentStatus = z.infer<typeof environmentStatusSchema>;

export const DEPLOYMENT_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILED'] as const;
export const deploymentStatusSchema = z.enum(DEPLOYMENT_STATUSES);
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;

/** Every status but DESTROYED counts as active (`active_only=true`). */
export const ACTIVE_ENVIRONMENT_STATUSES: readonly EnvironmentStatus[] = ENVIRONMENT_STATUSES.filter(
  (s) => s !== 'DESTROYED',
);
