import type { Prisma } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { WebhookJob, WebhookJobName } from '@ephemera/schema';
import type { InstallationState } from '../github/github-checks.js';
import type { PreviewSettings } from '../pull-request-reconciler.js';
import type { Touched } from '../touched.js';

/** What GitHub said about a delivery, asked before its transaction (no network call runs inside one). */
export interface DeliveryFacts {
  /** A fork's pull request: whether the event's sender may put code into a preview (write access, not a bot); null when not asked. */
  senderTrusted: boolean | null;
  /** installation.deleted / suspend: the installation as GitHub reports it now; null when it cannot be asked. */
  installationState: InstallationState | null;
  /** installation_repositories.removed: those of the removed repositories the installation really no longer reaches; null when it cannot be asked. */
  confirmedRemoved: string[] | null;
}

export const NO_FACTS: DeliveryFacts = { senderTrusted: null, installationState: null, confirmedRemoved: null };

export interface HandlerContext {
  tx: Prisma.TransactionClient;
  settings: PreviewSettings;
  logger: Logger;
  facts: DeliveryFacts;
}

/** One module per webhook job; `handle` runs inside the delivery's transaction. */
export interface WebhookHandler<J extends WebhookJob = WebhookJob> {
  readonly jobName: WebhookJobName;
  handle(ctx: HandlerContext, job: J): Promise<Touched[]>;
}
