import type { Prisma } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { WebhookJob, WebhookJobName } from '@ephemera/schema';
import type { PreviewSettings } from '../pull-request-reconciler.js';
import type { Touched } from '../touched.js';

export interface HandlerContext {
  tx: Prisma.TransactionClient;
  settings: PreviewSettings;
  logger: Logger;
}

/** One module per webhook job; `handle` runs inside the delivery's transaction. */
export interface WebhookHandler<J extends WebhookJob = WebhookJob> {
  readonly jobName: WebhookJobName;
  handle(ctx: HandlerContext, job: J): Promise<Touched[]>;
}
