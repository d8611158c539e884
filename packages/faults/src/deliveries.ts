import { randomUUID } from 'node:crypto';
import { pullRequestPayload, signedDelivery, type FakeGithub, type SignedDelivery } from '@ephemera/testkit';

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

/** How deliveries are sent: `concurrency` at a time, at most `perSecond` a second when given. */
interface Pacing {
  concurrency?: number;
  perSecond?: number;
}

/** What became of a batch of deliveries. */
interface Sorted<Refused> {
  /** Delivery ids answered 2xx. */
  accepted: string[];
  /** The deliveries answered anything else (or not at all). */
  refused: Refused[];
  /** Answers by status code; `error` (or `0` through the fake GitHub) when the request got none. */
  statuses: Record<string, number>;
}

/** Deliveries answered anything else than 2xx (or not at all) are kept whole, to be sent again. */
type SendResult = Sorted<SignedDelivery>;

/** Delivery ids by what the (fake) GitHub recorded of their attempts. */
export type GithubSendResult = Sorted<string>;

/**
 * Runs `each` over the items, `concurrency` at a time, starting at most `perSecond` a second when given (a steady
 * rate rather than a burst).
 */
async function paced<T>(items: T[], options: Pacing, each: (item: T) => Promise<void>): Promise<void> {
  const { concurrency = 20, perSecond } = options;
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        if (perSecond) {
          const due = started + (index * 1000) / perSecond;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        await each(items[index]!);
      }
    }),
  );
}

/** Sends every delivery with `attempt` (which says the answer's status), paced, and sorts them by their answers. */
async function sendSorted<Refused>(
  deliveries: SignedDelivery[],
  options: Pacing,
  attempt: (d: SignedDelivery) => Promise<number | 'error'>,
  refusedAs: (d: SignedDelivery) => Refused,
): Promise<Sorted<Refused>> {
  const result: Sorted<Refused> = { accepted: [], refused: [], statuses: {} };
  await paced(deliveries, options, async (d) => {
    const status = await attempt(d);
    result.statuses[status] = (result.statuses[status] ?? 0) + 1;
    if (typeof status === 'number' && status >= 200 && status < 300) result.accepted.push(d.deliveryId);
    else result.refused.push(refusedAs(d));
  });
  return result;
}

/**
 * Sends deliveries to ingest, `concurrency` at a time, at most `perSecond` a second when given (a steady rate
 * rather than a burst). Returns what was accepted and what was refused.
 */
export function send(ingestPort: number, deliveries: SignedDelivery[], options: Pacing = {}): Promise<SendResult> {
  const post = (d: SignedDelivery) =>
    fetch(`http://127.0.0.1:${ingestPort}/api/v1/webhooks/github`, {
      method: 'POST',
      headers: d.headers,
      body: d.body,
    }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 'error' as const,
    );
  return sendSorted(deliveries, options, post, (d) => d);
}

/**
 * Has the fake GitHub send the deliveries to its webhook (ingest), with their own guids, as GitHub does: signed
 * by it, and kept in its delivery log with the answer each got, for the worker's redelivery pass to read.
 */
export function deliverThroughGithub(github: FakeGithub, deliveries: SignedDelivery[], options: Pacing = {}): Promise<GithubSendResult> {
  const viaGithub = async (d: SignedDelivery) => {
    const payload = JSON.parse(d.body) as Record<string, unknown>;
    return (await github.deliver(d.headers['x-github-event']!, payload, { guid: d.deliveryId })).status_code;
  };
  return sendSorted(deliveries, options, viaGithub, (d) => d.deliveryId);
}

/**
 * The deliveries of {@link lifecycleDeliveries} regrouped by step: every PR's first delivery, then every PR's
 * second, and so on (a PR's deliveries keep their order across the groups).
 */
export function bySteps(deliveries: SignedDelivery[]): SignedDelivery[][] {
  const seen = new Map<number, number>();
  const steps: SignedDelivery[][] = [];
  for (const d of deliveries) {
    const pr = (JSON.parse(d.body) as { pull_request: { number: number } }).pull_request.number;
    const step = seen.get(pr) ?? 0;
    seen.set(pr, step + 1);
    (steps[step] ??= []).push(d);
  }
  return steps;
}

/**
 * Sends refused deliveries again, as an operator redelivers from the App's settings after a 503, until all
 * are accepted or `attempts` rounds have passed.
 */
export async function resendRefused(ingestPort: number, refused: SignedDelivery[], attempts = 20): Promise<SendResult> {
  const total: SendResult = { accepted: [], refused, statuses: {} };
  for (let i = 0; i < attempts && total.refused.length > 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1_000));
    const again = await send(ingestPort, total.refused);
    total.accepted.push(...again.accepted);
    total.refused = again.refused;
    for (const [k, v] of Object.entries(again.statuses)) total.statuses[k] = (total.statuses[k] ?? 0) + v;
  }
  return total;
}
