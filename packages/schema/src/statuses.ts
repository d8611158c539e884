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

/**
 * A deployment is QUEUED, then WAITING while its commit's checks have not passed (`deploy.wait_for`), IN_PROGRESS
 * while it is applied and rolled out, and ends SUCCESS or FAILED.
 */
export const DEPLOYMENT_STATUSES = ['QUEUED', 'WAITING', 'IN_PROGRESS', 'SUCCESS', 'FAILED'] as const;
export const deploymentStatusSchema = z.enum(DEPLOYMENT_STATUSES);
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;

/** Every status but DESTROYED counts as active (`active_only=true`). */
export const ACTIVE_ENVIRONMENT_STATUSES: readonly EnvironmentStatus[] = ENVIRONMENT_STATUSES.filter(
  (s) => s !== 'DESTROYED',
);

/** Deployments not yet ended: a newer push or a close supersedes them. */
export const ACTIVE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['QUEUED', 'WAITING', 'IN_PROGRESS'];
