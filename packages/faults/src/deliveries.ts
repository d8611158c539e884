import { randomUUID } from 'node:crypto';
import { pullRequestPayload, signedDelivery, type SignedDelivery } from '@ephemera/testkit';

import { SECRET } from './stack.js';

const hex = (n: number) => n.toString(16).padStart(40, '0');
const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().replace('.000Z', 'Z');

export interface Expected {
  status: 'READY' | 'DESTROYED';
  commitSha: string;
  title: string;
}

/**
 * The lifecycle of `prs` pull requests as GitHub emits it (opened, two pushes, a title edit; every other PR
 * closed), signed, and the final state each PR must end in whatever order it arrives.
 */
export async function lifecycleDeliveries(prs: number, firstPr = 1): Promise<{ deliveries: SignedDelivery[]; expected: Map<number, Expected> }> {
  const deliveries: SignedDelivery[] = [];
  const expected = new Map<number, Expected>();
  for (let pr = firstPr; pr < firstPr + prs; pr++) {
    const t = pr * 10;
    const title = `Change ${pr}`;
    const events = [
      pullRequestPayload({ action: 'opened', number: pr, headSha: hex(t + 1), updatedAt: at(t + 1) }),
      pullRequestPayload({ action: 'synchronize', number: pr, headSha: hex(t + 2), updatedAt: at(t + 2) }),
      pullRequestPayload({ action: 'synchronize', number: pr, headSha: hex(t + 3), updatedAt: at(t + 3) }),
      pullRequestPayload({ action: 'edited', number: pr, headSha: hex(t + 3), updatedAt: at(t + 4), title }),
    ];
    if (pr % 2 === 0) events.push(pullRequestPayload({ action: 'closed', number: pr, headSha: hex(t + 3), updatedAt: at(t + 5), title }));
    for (const e of events) deliveries.push(await signedDelivery(SECRET, 'pull_request', e, { deliveryId: randomUUID() }));
    expected.set(pr, { status: pr % 2 === 0 ? 'DESTROYED' : 'READY', commitSha: hex(t + 3), title });
  }
  return { deliveries, expected };
}

/** Sends deliveries to ingest, `concurrency` at a time; returns the ids answered 2xx and those refused. */
export async function send(ingestPort: number, deliveries: SignedDelivery[], concurrency = 20) {
  const accepted: string[] = [];
  const refused: SignedDelivery[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < deliveries.length) {
        const d = deliveries[next++]!;
        const ok = await fetch(`http://127.0.0.1:${ingestPort}/api/v1/webhooks/github`, { method: 'POST', headers: d.headers, body: d.body }).then(
          (r) => r.status >= 200 && r.status < 300,
          () => false,
        );
        if (ok) accepted.push(d.deliveryId);
        else refused.push(d);
      }
    }),
  );
  return { accepted, refused };
}
