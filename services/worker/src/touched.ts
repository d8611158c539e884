import type { PullRequestKey } from '@ephemera/db';
import type { DeploymentStatus, EnvironmentStatus } from '@ephemera/schema';

/**
 * A pull request whose state a transaction changed, with what its follow-up jobs need: the environment and latest
 * deployment as the transaction left them, so queueing the follow-ups reads nothing again. Left undefined when
 * the transaction did not read them (a duplicate delivery): the follow-ups read them then.
 */
export interface Touched {
  key: PullRequestKey;
  installationId: number | null;
  environment?: { id: number; status: EnvironmentStatus; waitingSince: Date | null; installationId: bigint } | null;
  latest?: { id: number; status: DeploymentStatus } | null;
  /** The event was older than what was already applied, and changed nothing. */
  stale?: boolean;
  /** The delivery was applied before (found when recording it). */
  duplicate?: boolean;
}

/**
 * A pull request touched without its state at hand (a duplicate delivery, a sweep): its follow-ups read the
 * environment and latest deployment as they are now.
 */
export function touchedPullRequest(key: PullRequestKey, installationId: number | null): Touched {
  return { key, installationId };
}
