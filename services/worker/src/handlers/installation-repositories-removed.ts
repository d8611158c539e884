import type { InstallationRepositoriesJob } from '@ephemera/schema';
import { destroyEnvironments } from './destroy-environments.js';
import type { WebhookHandler } from './handler.js';

/**
 * Repositories taken out of the installation lose their previews, those GitHub confirms it no longer reaches;
 * a repository GitHub still lists keeps its previews (a replayed or forged event).
 */
export const installationRepositoriesRemoved: WebhookHandler<InstallationRepositoriesJob> = {
  jobName: 'installation_repositories.removed',
  async handle(ctx, job) {
    const confirmed = ctx.facts.confirmedRemoved ?? [];
    const contradicted = job.repositoriesRemoved.filter((r) => !confirmed.includes(r));
    if (contradicted.length > 0) {
      ctx.logger.warn(
        { installation_id: job.installationId, repositories: contradicted, github_says: ctx.facts.confirmedRemoved === null ? 'unknown (no App credentials)' : 'still reachable' },
        'installation_repositories.removed not confirmed by GitHub for these repositories; nothing changed for them',
      );
    }
    if (confirmed.length === 0) return [];
    return destroyEnvironments(
      ctx.tx,
      { installationId: BigInt(job.installationId), repositoryFullName: { in: confirmed } },
      'This repository was removed from the Ephemera GitHub App, so its preview was removed.',
    );
  },
};
