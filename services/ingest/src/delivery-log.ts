import type { Response } from 'express';
import type { Logger } from '@ephemera/runtime';
import type { IngestMetrics } from './metrics.js';

/** What is known of a delivery as it is handled: the fields of its log line. */
export interface Delivery {
  deliveryId?: string;
  event?: string;
  action?: string;
  repository?: string;
  outcome: string;
}

/**
 * Starts a delivery's record (`rejected` until decided otherwise, kept on `res.locals.delivery` for the answers),
 * counted and logged once its answer is sent, with the time it took.
 */
export function trackDelivery(res: Response, logger: Logger, metrics: IngestMetrics): Delivery {
  const started = process.hrtime.bigint();
  const delivery: Delivery = { outcome: 'rejected' };
  res.locals.delivery = delivery;
  res.on('finish', () => {
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    metrics.requests.inc({ route: 'webhook', status: String(res.statusCode) });
    logger.info(
      {
        delivery_id: delivery.deliveryId,
        event: delivery.event,
        action: delivery.action,
        repository: delivery.repository,
        outcome: delivery.outcome,
        status: res.statusCode,
        latency_ms: Math.round(latencyMs * 100) / 100,
      },
      'delivery',
    );
  });
  return delivery;
}
