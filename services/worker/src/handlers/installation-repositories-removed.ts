import { advancePullRequestStates } from '@ephemera/db';
import type { InstallationRepositoriesJob } from '@ephemera/schema';
import { destroyEnvironments } from './destroy-environments.js';
import type { WebhookHandler } from './handler.js';

/**
 * Repositories taken out of the installation lose their previews, those GitHub confirms it no longer reaches;
 * a repository GitHub still lists keeps its previews (a replayed or forged event).
 */
export const installationRepositoriesRemoved: WebhookHandler<InstallationRepositoriesJob> = async (ctx, job) => {
  const confirmed = ctx.facts.confirmedRemoved ?? [];
  const contradicted = job.repositoriesRemoved.filter((r) => !confirmed.includes(r));
  if (contradicted.length > 0) {
    ctx.logger.warn(
      { installation_id: job.installationId, repositories: contradicted, github_says: ctx.facts.confirmedRemoved === null ? 'unknown (no App credentials)' : 'still reachable' },
      'installation_repositories.removed not confirmed by GitHub for these repositories; nothing changed for them',
    );
  }
  if (confirmed.length === 0) return [];
  const installationId = BigInt(job.installationId);
  // By id where the event gives it (the rows may still carry a name from before a rename), else by name.
  const ids = job.repositoriesRemoved.flatMap((name, i) => (confirmed.includes(name) && job.repositoryIdsRemoved[i] !== undefined ? [BigInt(job.repositoryIdsRemoved[i]!)] : []));
  await advancePullRequestStates(ctx.tx, { installationId, repositoryIds: ids, repositoryFullNames: confirmed }, new Date(job.receivedAt));
  return destroyEnvironments(
    ctx.tx,
    { installationId, OR: [{ repositoryId: { in: ids } }, { repositoryFullName: { in: confirmed } }] },
    'This repository was removed from the Ephemera GitHub App, so its preview was removed.',
    ctx.settings.logMaxBytes,
  );
};
