import type { InstallationRepositoriesJob } from '@ephemera/schema';
import { destroyEnvironments } from './destroy-environments.js';
import type { WebhookHandler } from './handler.js';

/** Repositories taken out of the installation lose their previews. */
export const installationRepositoriesRemoved: WebhookHandler<InstallationRepositoriesJob> = {
  jobName: 'installation_repositories.removed',
  async handle(ctx, job) {
    if (job.repositoriesRemoved.length === 0) return [];
    return destroyEnvironments(
      ctx.tx,
      { installationId: BigInt(job.installationId), repositoryFullName: { in: job.repositoriesRemoved } },
      'This repository was removed from the Ephemera GitHub App, so its preview was removed.',
    );
  },
};
