import type { OptimisticWrite, Prisma } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { WebhookJob } from '@ephemera/schema';
import type { InstallationState } from '../github/github-checks.js';
import type { PreviewSettings, SnapshotAuthority } from '../pull-request-reconciler.js';
import type { Touched } from '../touched.js';

/** What GitHub said about a delivery, asked before its transaction (no network call runs inside one). */
export interface DeliveryFacts {
  /**
   * A fork's pull request: whether the event's sender (a review's author) may put code into a preview (write access,
   * not a bot); null when not asked.
   */
  senderTrusted: boolean | null;
  /** installation.deleted / suspend: the installation as GitHub reports it now; null when it cannot be asked. */
  installationState: InstallationState | null;
  /** installation_repositories.removed: those of the removed repositories the installation really no longer reaches; null when it cannot be asked. */
  confirmedRemoved: string[] | null;
}

export const NO_FACTS: DeliveryFacts = { senderTrusted: null, installationState: null, confirmedRemoved: null };

export interface HandlerContext {
  /** The delivery's transaction, or the client itself for an optimistic application. */
  tx: Prisma.TransactionClient;
  settings: PreviewSettings;
  logger: Logger;
  facts: DeliveryFacts;
  /** The pull request's lock is already held (taken with the delivery's record). */
  locked?: boolean;
  /** How the snapshot is weighed against what was applied (default `event`). */
  authority?: SnapshotAuthority;
  /** Applied without a transaction: the write records this delivery itself (pull_request and pull_request_review events only). */
  optimistic?: OptimisticWrite;
}

/** What a webhook job does inside the delivery's transaction. */
export type WebhookHandler<J extends WebhookJob = WebhookJob> = (ctx: HandlerContext, job: J) => Promise<Touched[]>;
