import type { Request } from 'express';
import { DELIVERY_ID } from '@ephemera/schema';
import type { Delivery } from './delivery-log.js';

const EVENT_NAME = /^[a-z][a-z_]{0,63}$/;
/** `application/json`, with parameters or not (GitHub sends it bare). */
const JSON_CONTENT_TYPE = /^\s*application\/json\s*(?:;|$)/i;

export interface Refusal {
  status: number;
  error: string;
  message: string;
}
/** The checks that need only the headers; records the event and delivery id on `delivery` as they pass. */
export function checkHeaders(req: Request, delivery: Delivery): Refusal | undefined {
  const headers = req.headers;
  const event = headers['x-github-event'];
  if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
    const message = event ? 'X-GitHub-Event is malformed' : 'X-GitHub-Event header is missing';
    return { status: 400, error: 'invalid_event_header', message };
  }
  delivery.event = event;
  const deliveryId = headers['x-github-delivery'];
  if (typeof deliveryId !== 'string' || !DELIVERY_ID.test(deliveryId)) {
    const message = deliveryId ? 'X-GitHub-Delivery must be a GUID' : 'X-GitHub-Delivery header is missing';
    return { status: 400, error: 'invalid_delivery_header', message };
  }
  delivery.deliveryId = deliveryId;
  const contentType = headers['content-type'];
  if (contentType === undefined || !JSON_CONTENT_TYPE.test(contentType)) {
    const form = contentType !== undefined && req.is('application/x-www-form-urlencoded');
    const message = form
      ? 'This webhook sends application/x-www-form-urlencoded; set the webhook content type to application/json in the GitHub App settings'
      : 'Content-Type must be application/json';
    return { status: 415, error: 'unsupported_content_type', message };
  }
  // GitHub never compresses deliveries, and the signature is over the bytes as sent.
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return { status: 415, error: 'unsupported_content_encoding', message: 'Content-Encoding must be identity (GitHub does not compress deliveries)' };
  }
  if (!headers['x-hub-signature-256']) {
    const message = headers['x-hub-signature']
      ? 'X-Hub-Signature-256 header is missing (sha1 X-Hub-Signature alone is not accepted); set a webhook secret'
      : 'X-Hub-Signature-256 header is missing; set a webhook secret';
    return { status: 401, error: 'missing_signature', message };
  }
  return undefined;
}
