import type { InstallationJob, WebhookJobName } from '@ephemera/schema';
import { destroyEnvironments } from './destroy-environments.js';
import type { WebhookHandler } from './handler.js';

/** A handler that destroys every preview of the installation, with `note` on each PR. */
function destroyAllOfInstallation(jobName: WebhookJobName, note: string): WebhookHandler<InstallationJob> {
  return {
    jobName,
    handle: (ctx, job) => destroyEnvironments(ctx.tx, { installationId: BigInt(job.installationId) }, note),
  };
}

/** The App was uninstalled: nothing of that installation may keep running. */
export const installationDeleted = destroyAllOfInstallation(
  'installation.deleted',
  'The Ephemera GitHub App was uninstalled, so this preview was removed.',
);

/** A suspended installation gets no previews; they are destroyed like on uninstall. */
export const installationSuspend = destroyAllOfInstallation(
  'installation.suspend',
  'The Ephemera GitHub App was suspended for this account, so this preview was removed. Push a commit after unsuspending to bring it back.',
);

/**
 * Unsuspending changes nothing by itself: previews come back with the next push or reopen of each PR, which
 * is when there is code worth deploying.
 */
export const installationUnsuspend: WebhookHandler<InstallationJob> = {
  jobName: 'installation.unsuspend',
  async handle(ctx, job) {
    ctx.logger.info({ installation_id: job.installationId, account: job.accountLogin }, 'installation unsuspended');
    return [];
  },
};
