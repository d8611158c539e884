import type { Logger } from '@ephemera/runtime';
import type { AccountAllowList } from '@ephemera/schema';
import type { IngestMetrics } from './metrics.js';
import type { InflightBudget } from './request-body.js';
import type { SignatureVerifier } from './signature-verifier.js';
import type { WebhookSink } from './webhook-queue.js';

/** What the webhook route's functions share across every request of one app. */
export interface WebhookContext {
  verifier: SignatureVerifier;
  queue: WebhookSink;
  logger: Logger;
  metrics: IngestMetrics;
  /** Bytes of request bodies being read or held (INGEST_MAX_INFLIGHT_BYTES). */
  budget: InflightBudget;
  /** ALLOWED_ACCOUNTS. */
  allowed: AccountAllowList;
}
