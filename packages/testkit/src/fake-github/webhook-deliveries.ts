import { signedDelivery } from '../signed-delivery.js';
import type { FakeGithubState } from './fake-github-state.js';

/** A delivery attempt as the App's delivery log (`GET /app/hook/deliveries/{id}`) keeps it. */
export interface FakeDelivery {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  installation_id: number | null;
  repository_id: number | null;
  payload: Record<string, unknown>;
}

/** One attempt of a delivery, sent now (or recorded as unreachable), kept in the delivery log. */
export async function attemptDelivery(state: FakeGithubState, event: string, payload: Record<string, unknown>, guid: string, redelivery: boolean, lost: boolean): Promise<FakeDelivery> {
  const started = state.now();
  let status = 'failed to connect to host';
  let statusCode = 0;
  const webhook = state.webhook;
  if (!lost && webhook) {
    try {
      const signed = await signedDelivery(webhook.secret, event, payload, { deliveryId: guid });
      // Where the webhook points when the request leaves, as it may have moved meanwhile.
      const res = await fetch((state.webhook ?? webhook).url, { method: 'POST', headers: signed.headers, body: signed.body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      statusCode = res.status;
      status = res.ok ? 'OK' : `Invalid HTTP Response: ${res.status}`;
    } catch {
      // unreachable, as recorded above
    }
  }
  const record: FakeDelivery = {
    id: state.nextDeliveryId++,
    guid,
    event,
    action: typeof payload.action === 'string' ? payload.action : null,
    delivered_at: new Date(started).toISOString().replace(/\.\d+Z$/, 'Z'),
    redelivery,
    status,
    status_code: statusCode,
    installation_id: (payload.installation as { id?: number } | undefined)?.id ?? null,
    repository_id: (payload.repository as { id?: number } | undefined)?.id ?? null,
    payload,
  };
  state.deliveries.push(record);
  return record;
}

/** A delivery as the delivery log lists it: without its payload. */
export function listedDelivery(d: FakeDelivery): Record<string, unknown> {
  const { payload: _payload, ...rest } = d;
  return { ...rest, duration: 0.05, throttled_at: null };
}
