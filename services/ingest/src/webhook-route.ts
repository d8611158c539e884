import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SettledOutcome } from '@ephemera/runtime';
import type { WebhookJob } from '@ephemera/schema';
import { admitDelivery } from './admit-delivery.js';
import { checkHeaders } from './check-headers.js';
import { trackDelivery, type Delivery } from './delivery-log.js';
import { MAX_BODY_BYTES, RETRY_AFTER_SECONDS, busy, errorSummary, fail, reply, tooLarge } from './replies.js';
import { afterBody, readBody } from './request-body.js';
import type { WebhookContext } from './webhook-context.js';
import { EnqueueTimeoutError } from './webhook-queue.js';

/**
 * The webhook route, one handler: it is the route that answers thousands of times a second, and every router layer
 * and `next()` in front of it costs each delivery a few microseconds. A 2xx means the delivery is in Redis (or
 * deliberately not needed there: ignored, duplicate, ping).
 */
export function webhookHandler(ctx: WebhookContext): RequestHandler {
  return (req, res, next) => {
    const delivery = trackDelivery(res, ctx.logger, ctx.metrics);
    // Headers first, so a request that is wrong from the start is refused before its body is kept.
    const refusal = checkHeaders(req, delivery);
    if (refusal) {
      if (refusal.status === 401) ctx.metrics.signatureFailures.inc();
      return afterBody(req, res, () => fail(res, refusal.status, refusal.error, refusal.message));
    }
    receiveBody(ctx, req, res, next, delivery);
  };
}

/**
 * Read by hand rather than with express.raw or raw-body: the body is only ever used as the bytes that were signed
 * (so none of their type, charset and decompression handling applies; a compressed body is refused with the
 * headers), and every byte kept counts against the in-flight budget until the request is answered or closed.
 */
function receiveBody(ctx: WebhookContext, req: Request, res: Response, next: NextFunction, delivery: Delivery): void {
  const { budget } = ctx;
  const length = Number(req.headers['content-length'] ?? NaN);
  const declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  if (declared !== undefined && declared > MAX_BODY_BYTES) return afterBody(req, res, () => tooLarge(res));
  let held = 0;
  const release = () => {
    budget.release(held);
    held = 0;
  };
  res.on('close', release);
  if (declared !== undefined) {
    if (!budget.take(declared, held)) {
      refuseBusy(ctx, delivery);
      return afterBody(req, res, () => busy(res));
    }
    held = declared;
  }
  readBody(req, {
    // A body without Content-Length (chunked) counts as its bytes arrive.
    take: declared === undefined ? (n) => budget.take(n, held) && ((held += n), true) : () => true,
    dropped(reason) {
      release();
      if (reason === 'busy') refuseBusy(ctx, delivery);
    },
    done(outcome) {
      if (res.headersSent || res.destroyed) return;
      if (outcome === 'too-large') return tooLarge(res);
      if (outcome === 'busy') return busy(res);
      if (outcome === 'aborted') return;
      admitDelivery(ctx, outcome, req.headers['x-hub-signature-256'] as string, delivery)
        .then(async (admitted) => {
          if (admitted.job) return store(ctx, res, admitted.job, delivery);
          if (admitted.settled) await settle(ctx, delivery.deliveryId!, admitted.settled);
          admitted.answer(res);
        })
        .catch(next);
    },
  });
}

/** Counted when decided: the bodies being read already take the whole in-flight budget. */
function refuseBusy(ctx: WebhookContext, delivery: Delivery): void {
  delivery.outcome = 'busy';
  ctx.metrics.inflightRefusals.inc();
}

/**
 * Records a delivery answered without a job as settled. Best effort, within the enqueue bound: the answer is the
 * same either way, and a record that could not be written costs at most a redelivery, answered the same again.
 */
async function settle(ctx: WebhookContext, deliveryId: string, outcome: SettledOutcome): Promise<void> {
  try {
    await ctx.queue.settle(deliveryId, outcome);
  } catch (err) {
    ctx.logger.warn({ err: errorSummary(err), delivery_id: deliveryId }, 'could not record the delivery as settled; the redelivery pass may ask for it again');
  }
}

async function store(ctx: WebhookContext, res: Response, job: WebhookJob, delivery: Delivery): Promise<void> {
  const { metrics } = ctx;
  const event = job.event;
  const stopTimer = metrics.enqueueSeconds.startTimer();
  try {
    const outcome = await ctx.queue.enqueue(job);
    stopTimer();
    // Logged and counted as `requeued` (a failed job replaced by this redelivery); GitHub is told `queued`.
    delivery.outcome = outcome;
    metrics.deliveries.inc({ event, outcome });
    reply(res, 202, { delivery_id: job.deliveryId, status: outcome === 'requeued' ? 'queued' : outcome });
  } catch (err) {
    delivery.outcome = 'unavailable';
    metrics.deliveries.inc({ event, outcome: 'unavailable' });
    ctx.logger.warn({ err: errorSummary(err), delivery_id: job.deliveryId }, 'could not store delivery');
    res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    fail(
      res,
      503,
      'queue_unavailable',
      err instanceof EnqueueTimeoutError
        ? 'the queue did not accept the delivery in time; redeliver it later'
        : 'the queue is unavailable; redeliver it later',
    );
  }
}
