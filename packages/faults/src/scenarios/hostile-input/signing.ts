import { createHmac, randomUUID } from 'node:crypto';
import { pullRequestPayload } from '@ephemera/testkit';
import { SECRET } from '../../service-env.js';

/** The genuine delivery the hostile requests are made from. */
export const REAL = Buffer.from(JSON.stringify(pullRequestPayload({ action: 'synchronize', number: 900_000, headSha: 'a'.repeat(40), updatedAt: '2026-01-01T00:00:00Z' })));

/** How a hostile request is signed, if at all: rightly, or one of the ways a forger gets it wrong. */
export type Signing = 'none' | 'valid' | 'wrong-secret' | 'other-body' | 'sha1-only' | 'garbage';

/** The signature headers of a body signed as `sign` says. */
export function signature(sign: Signing, body: Buffer): Record<string, string> {
  switch (sign) {
    case 'none':
      return {};
    case 'valid':
      return { 'X-Hub-Signature-256': hmac(SECRET, body) };
    case 'wrong-secret':
      return { 'X-Hub-Signature-256': hmac('not-the-secret', body) };
    case 'other-body':
      return { 'X-Hub-Signature-256': hmac(SECRET, Buffer.concat([body, Buffer.from(' ')])) };
    case 'sha1-only':
      return { 'X-Hub-Signature': 'sha1=0123456789abcdef0123456789abcdef01234567' };
    case 'garbage':
      return { 'X-Hub-Signature-256': 'sha256=zz' };
  }
}

/** HMAC over the raw bytes, as GitHub computes it (the test kit's helper signs strings). */
function hmac(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The headers of a genuine pull_request delivery, under a delivery id of its own. */
export const goodHeaders = (deliveryId = randomUUID()) => ({
  'Content-Type': 'application/json',
  'X-GitHub-Event': 'pull_request',
  'X-GitHub-Delivery': deliveryId,
});
