import { isUtf8 } from 'node:buffer';
import type { Response } from 'express';
import type { SettledOutcome } from '@ephemera/runtime';
import { PayloadError, deliveryAccount, trimWebhookPayload, type WebhookJob } from '@ephemera/schema';
import type { Delivery } from './delivery-log.js';
import { fail, reply } from './replies.js';
import type { WebhookContext } from './webhook-context.js';

/**
 * What {@link admitDelivery} decided: a job to store, or the answer to give without storing anything, and whether
 * the delivery is to be recorded as settled first.
 */
export type Admitted = { job: WebhookJob; answer?: undefined } | Answer;
type Answer = { job?: undefined; answer: (res: Response) => void; settled?: SettledOutcome };

/**
 * Verifies, parses and trims one body. A function of its own so that the 24 KB body, its text and the parsed
 * payload are garbage once it returns, rather than held by the handler while the job waits on Redis.
 */
export async function admitDelivery(ctx: WebhookContext, body: Buffer, signature: string, delivery: Delivery): Promise<Admitted> {
  if (body.length === 0) return refuse(400, 'empty_body', 'request body is empty');
  if (!isUtf8(body)) return refuse(400, 'invalid_encoding', 'request body is not valid UTF-8');
  const text = body.toString('utf8');
  if (!(await ctx.verifier.verify(text, signature))) {
    ctx.metrics.signatureFailures.inc();
    return refuse(401, 'invalid_signature', 'X-Hub-Signature-256 does not match the body and secret');
  }

  // From here on the delivery is GitHub's (its signature holds): one refused now is refused for good, and is
  // recorded as settled so that the redelivery pass never asks for it again.
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return settled(refuse(400, 'invalid_json', 'request body is not valid JSON'));
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return settled(refuse(400, 'invalid_json', 'request body must be a JSON object'));
  }
  return admitPayload(ctx, payload, delivery);
}

/** A verified JSON object: a ping's pong, a job, or a delivery ignored (an event not acted on, another account). */
function admitPayload(ctx: WebhookContext, payload: object, delivery: Delivery): Admitted {
  const p = payload as { action?: unknown; repository?: { full_name?: unknown }; zen?: unknown };
  if (typeof p.action === 'string') delivery.action = p.action;
  if (typeof p.repository?.full_name === 'string') delivery.repository = p.repository.full_name;

  const event = delivery.event!;
  const deliveryId = delivery.deliveryId!;
  if (event === 'ping') {
    delivery.outcome = 'pong';
    ctx.metrics.deliveries.inc({ event, outcome: 'pong' });
    const zen = typeof p.zen === 'string' ? p.zen : undefined;
    return { answer: (res) => reply(res, 200, { delivery_id: deliveryId, status: 'pong', zen }) };
  }

  let job;
  try {
    job = trimWebhookPayload({ event, deliveryId, receivedAt: new Date() }, payload);
  } catch (err) {
    if (err instanceof PayloadError) return settled(refuse(400, 'invalid_payload', err.message));
    throw err;
  }
  // An event Ephemera does not act on needs no record: the redelivery pass never asks for one.
  if (job === null) return ignored(ctx, event, deliveryId, delivery);
  const account = deliveryAccount(job);
  if (!ctx.allowed.allows(account)) {
    ctx.logger.info({ delivery_id: deliveryId, event, account }, `delivery from ${account} ignored: not in ALLOWED_ACCOUNTS`);
    return { ...ignored(ctx, event, deliveryId, delivery), settled: 'ignored' };
  }
  return { job };
}

/** Deliveries verified but not acted on: 202 `ignored`, counted, nothing stored. */
function ignored(ctx: WebhookContext, event: string, deliveryId: string, delivery: Delivery): Answer {
  delivery.outcome = 'ignored';
  ctx.metrics.deliveries.inc({ event, outcome: 'ignored' });
  return { answer: (res) => reply(res, 202, { delivery_id: deliveryId, status: 'ignored' }) };
}

function refuse(status: number, error: string, message: string): Answer {
  return { answer: (res) => fail(res, status, error, message) };
}

/** A refusal of a delivery whose signature held: GitHub would send it again unchanged, and be refused again. */
function settled(refusal: Answer): Answer {
  return { ...refusal, settled: 'invalid' };
}
