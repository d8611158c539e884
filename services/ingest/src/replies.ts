import type { Response } from 'express';
import type { Delivery } from './delivery-log.js';

/** GitHub caps webhook payloads at 25 MB; anything larger cannot be a genuine delivery. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** Seconds a refused delivery should wait before it is sent again (503 Retry-After). */
export const RETRY_AFTER_SECONDS = 10;

export function tooLarge(res: Response): void {
  fail(res, 413, 'payload_too_large', `body exceeds ${MAX_BODY_BYTES} bytes (GitHub's own limit)`);
}

/** 503 with Retry-After: the request did not fit in INGEST_MAX_INFLIGHT_BYTES. */
export function busy(res: Response): void {
  res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  fail(res, 503, 'server_busy', 'ingest is reading as many request bodies as it may hold at once; redeliver it later');
}

export function fail(res: Response, status: number, error: string, message: string): void {
  const delivery = res.locals.delivery as Delivery | undefined;
  reply(res, status, { ...(delivery?.deliveryId ? { delivery_id: delivery.deliveryId } : {}), error, message });
}

/**
 * A JSON answer written straight to the response: the webhook route answers thousands of times a second, and
 * express's `res.json` (charset negotiation, freshness and ETag checks) is made for content it does not send.
 */
export function reply(res: Response, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

export function errorSummary(err: unknown): { name?: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) };
}
