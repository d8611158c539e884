import { applyDelivery } from '../../handlers/apply-delivery.js';
import { installationRepositoriesRemoved } from '../../handlers/installation-repositories-removed.js';
import { webhookJobs } from '../../handlers/webhook-jobs.js';

/** `installation_repositories.removed`: the previews of repositories the App no longer reaches are removed. */
export const installationRepositoriesJobs = webhookJobs('installation_repositories', (data, ctx) => applyDelivery(ctx, installationRepositoriesRemoved, data));
