import type { InstallationJob } from '@ephemera/schema';
import { applyDelivery } from '../../handlers/apply-delivery.js';
import type { WebhookHandler } from '../../handlers/handler.js';
import { installationDeleted, installationSuspend, installationUnsuspend } from '../../handlers/installation.js';
import { webhookJobs } from '../../handlers/webhook-jobs.js';

const HANDLERS: Record<InstallationJob['action'], WebhookHandler<InstallationJob>> = {
  deleted: installationDeleted,
  suspend: installationSuspend,
  unsuspend: installationUnsuspend,
};

/** `installation.*`: the App uninstalled or suspended (its previews removed, once GitHub confirms it), or unsuspended. */
export const installationJobs = webhookJobs('installation', (data, ctx) => applyDelivery(ctx, HANDLERS[data.action], data));
