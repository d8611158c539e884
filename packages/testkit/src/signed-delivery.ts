import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';

export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
  deliveryId: string;
}

/**
 * A delivery as GitHub sends it: the JSON body, its HMAC-SHA256 signature over exactly those bytes, and
 * GitHub's headers.
 */
export async function signedDelivery(
  secret: string,
  event: string,
  payload: unknown,
  options: { deliveryId?: string; body?: string } = {},
): Promise<SignedDelivery> {
  const body = options.body ?? JSON.stringify(payload);
  const deliveryId = options.deliveryId ?? randomUUID();
  return {
    body,
    deliveryId,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/ephemera-test',
      'x-github-event': event,
      'x-github-delivery': deliveryId,
      'x-github-hook-id': '1',
      'x-github-hook-installation-target-type': 'integration',
      'x-hub-signature-256': await sign(secret, body),
    },
  };
}

/** The signature header value for a body. */
export function signBody(secret: string, body: string): Promise<string> {
  return sign(secret, body);
}
