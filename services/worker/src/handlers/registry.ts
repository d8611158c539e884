import { WEBHOOK_JOB_NAMES, type WebhookJobName } from '@ephemera/schema';
import type { WebhookHandler } from './handler.js';
import { installationRepositoriesRemoved } from './installation-repositories-removed.js';
import { installationDeleted, installationSuspend, installationUnsuspend } from './installation.js';
import { pullRequestClosed } from './pull-request-closed.js';
import { pullRequestConvertedToDraft } from './pull-request-converted-to-draft.js';
import { pullRequestEdited } from './pull-request-edited.js';
import { pullRequestLabeled } from './pull-request-labeled.js';
import { pullRequestOpened } from './pull-request-opened.js';
import { pullRequestReadyForReview } from './pull-request-ready-for-review.js';
import { pullRequestReopened } from './pull-request-reopened.js';
import { pullRequestSynchronize } from './pull-request-synchronize.js';
import { pullRequestUnlabeled } from './pull-request-unlabeled.js';

export const ALL_HANDLERS: readonly WebhookHandler[] = [
  pullRequestOpened,
  pullRequestReopened,
  pullRequestSynchronize,
  pullRequestClosed,
  pullRequestEdited,
  pullRequestLabeled,
  pullRequestUnlabeled,
  pullRequestReadyForReview,
  pullRequestConvertedToDraft,
  installationDeleted,
  installationSuspend,
  installationUnsuspend,
  installationRepositoriesRemoved,
] as readonly WebhookHandler[];

/**
 * Maps every job name ingest can produce to exactly one handler. Fails at start, naming the culprits, when a
 * handled event has no handler, has two, or a handler answers to a job nobody produces.
 */
export function createHandlerRegistry(
  handlers: readonly WebhookHandler[] = ALL_HANDLERS,
  expected: readonly WebhookJobName[] = WEBHOOK_JOB_NAMES,
): ReadonlyMap<WebhookJobName, WebhookHandler> {
  const registry = new Map<WebhookJobName, WebhookHandler>();
  const problems: string[] = [];
  for (const h of handlers) {
    if (registry.has(h.jobName)) problems.push(`${h.jobName} has two handlers`);
    if (!expected.includes(h.jobName)) problems.push(`${h.jobName} is not a job ingest produces`);
    registry.set(h.jobName, h);
  }
  for (const name of expected) if (!registry.has(name)) problems.push(`${name} has no handler`);
  if (problems.length > 0) throw new Error(`webhook handler registry is inconsistent: ${problems.join('; ')}`);
  return registry;
}
