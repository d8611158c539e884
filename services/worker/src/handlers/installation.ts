import { advancePullRequestStates } from '@ephemera/db';
import type { InstallationJob, WebhookJobName } from '@ephemera/schema';
import type { InstallationState } from '../github/github-checks.js';
import { destroyEnvironments } from './destroy-environments.js';
import type { WebhookHandler } from './handler.js';

/**
 * A handler that destroys every preview of the installation, with `note` on each PR, once GitHub confirms the
 * installation is in one of `confirmedBy` states. A replayed or forged event that GitHub contradicts changes
 * nothing.
 */
function destroyAllOfInstallation(jobName: WebhookJobName, confirmedBy: readonly InstallationState[], note: string): WebhookHandler<InstallationJob> {
  return async (ctx, job) => {
    const state = ctx.facts.installationState;
    if (state === null || !confirmedBy.includes(state)) {
      ctx.logger.warn(
        { installation_id: job.installationId, account: job.accountLogin, event: jobName, github_says: state ?? 'unknown (no App credentials)' },
        `${jobName} not confirmed by GitHub; nothing changed`,
      );
      return [];
    }
    const installationId = BigInt(job.installationId);
    // A pull_request event from before this one, arriving late, must not bring a preview back.
    await advancePullRequestStates(ctx.tx, { installationId }, new Date(job.receivedAt));
    return destroyEnvironments(ctx.tx, { installationId }, note, ctx.settings.logMaxBytes);
  };
}

/** The App was uninstalled: nothing of that installation may keep running. */
export const installationDeleted = destroyAllOfInstallation(
  'installation.deleted',
  ['gone'],
  'The Ephemera GitHub App was uninstalled, so this preview was removed.',
);

/** A suspended installation gets no previews; they are destroyed like on uninstall. */
export const installationSuspend = destroyAllOfInstallation(
  'installation.suspend',
  ['suspended', 'gone'],
  'The Ephemera GitHub App was suspended for this account, so this preview was removed. Push a commit after unsuspending to bring it back.',
);

/**
 * Unsuspending changes nothing by itself: previews come back with the next push or reopen of each PR, which
 * is when there is code worth deploying.
 */
export const installationUnsuspend: WebhookHandler<InstallationJob> = async (ctx, job) => {
  ctx.logger.info({ installation_id: job.installationId, account: job.accountLogin }, 'installation unsuspended');
  return [];
};
