import { QUEUES } from '@ephemera/schema';
import { check, closeQueues, openQueues, unexpectedAnswers, waitForQuiet } from '../check.js';
import { bySteps, deliverThroughGithub, lifecycleDeliveries, type GithubSendResult } from '../deliveries.js';
import { SECRET, sleep, type Stack } from '../stack.js';
import type { Scenario } from './context.js';

/** The worker's redelivery pass leaves a delivery alone until GitHub's `delivered_at` is this old (IN_FLIGHT_MS). */
const WORKER_IN_FLIGHT_MS = 2 * 60_000;
/**
 * How far back the fake GitHub dates the scenario's deliveries, so that the redelivery pass takes them as settled
 * within seconds rather than two minutes. Less than the worker's two minutes, by more than any delivery takes to
 * be answered: the pass remembers how far back it has looked (two minutes before each pass, every few seconds),
 * so a delivery dated further back than that when it is logged would be behind the mark, never looked at.
 */
const BACKDATE_MS = WORKER_IN_FLIGHT_MS - 15_000;
/** How long Redis stays down after the SIGKILL. */
const DOWN_MS = 4_000;

/**
 * Redis SIGKILLed in the middle of a stream of deliveries that GitHub (the fake) sends, right after a burst it
 * answered 202, its append-only file cut back to where it was before the burst — what an operating system crash
 * leaves of `appendfsync everysec` — and started again. Ingest answers 503 while it is down (GitHub records those
 * attempts as failed). Nobody resends anything by hand: the workers' redelivery pass, reading GitHub's delivery
 * log, asks GitHub to redeliver both the deliveries Redis lost after acknowledging them and those refused, and
 * every delivery ends applied exactly once.
 *
 * The deliveries go step by step across the PRs (every PR opened, then every first push, and so on), so each PR
 * still has deliveries to come after the kill: their processing queues again the follow-up jobs (deploys) that
 * the lost tail of the file took with it, as it does for any delivery.
 */
export const redisKilled: Scenario = {
  name: 'redis-killed',
  async run({ stack, ingest, full }) {
    const { github } = stack;
    github.setWebhook(`http://127.0.0.1:${ingest.port}/api/v1/webhooks/github`, SECRET);
    const { deliveries, expected } = await lifecycleDeliveries(full ? 300 : 60, 50_000);
    const ids = deliveries.map((d) => d.deliveryId);
    const [opened, push1, push2, edited, closed] = bySteps(deliveries) as [typeof deliveries, typeof deliveries, typeof deliveries, typeof deliveries, typeof deliveries];
    const perSecond = full ? 150 : 60;
    const problems: string[] = [];
    const statuses: Record<string, number> = {};
    const tally = (r: GithubSendResult) => {
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
      return r;
    };

    let cutBytes: number;
    let burst: GithubSendResult;
    let lostByRedis: number;
    let refusedWhileDown: number;
    const started = Date.now();
    github.advanceClock(-BACKDATE_MS);
    try {
      const early = tally(await deliverThroughGithub(github, [...opened, ...push1], { perSecond }));
      const mark = await stack.aofMark();
      // A burst all at once, answered 202, then the SIGKILL: the workers cannot have taken all of it.
      burst = tally(await deliverThroughGithub(github, push2, { concurrency: 50 }));
      cutBytes = await stack.killRedis({ loseSince: mark });
      const whileDown = deliverThroughGithub(github, edited, { perSecond });
      await sleep(DOWN_MS);
      await stack.bringRedisBack();
      lostByRedis = await lostInRedis(stack, [...early.accepted, ...burst.accepted]);
      const down = tally(await whileDown);
      refusedWhileDown = down.refused.length;
      tally(await deliverThroughGithub(github, closed, { perSecond }));
    } finally {
      github.advanceClock(BACKDATE_MS);
    }
    problems.push(...unexpectedAnswers(statuses, ['202', '503'], ' (first attempts)'));
    if (burst.accepted.length === 0) problems.push('the burst before the kill was not accepted');
    if (lostByRedis === 0) problems.push(`Redis lost no acknowledged delivery (AOF cut ${cutBytes} bytes): the kill missed the burst`);
    if (refusedWhileDown === 0) problems.push('no delivery was refused while Redis was down');

    await waitForQuiet(stack, ids, full ? 300_000 : 150_000, problems);
    const took = Math.round((Date.now() - started) / 1000);

    const mine = new Set(ids);
    const attempts = github.deliveries.filter((d) => mine.has(d.guid));
    const redeliveries = attempts.filter((d) => d.redelivery);
    const redelivered = new Set(redeliveries.map((d) => d.guid));
    const accepted = [...new Set(attempts.filter((d) => d.status_code >= 200 && d.status_code < 300).map((d) => d.guid))];
    const neverAccepted = ids.length - accepted.length;
    if (neverAccepted > 0) problems.push(`${neverAccepted} deliveries never accepted, even redelivered`);
    if (lostByRedis + refusedWhileDown > 0 && redeliveries.length === 0) problems.push('nothing was redelivered');
    const overAsked = [...redelivered].filter((g) => redeliveries.filter((d) => d.guid === g).length > 3).length;
    if (overAsked > 0) problems.push(`${overAsked} deliveries redelivered more than 3 times`);

    return check(stack, `Redis SIGKILLed mid-stream, last writes lost (down ${DOWN_MS / 1000} s)`, deliveries.length, accepted, expected, {
      problems,
      detail:
        `${burst.accepted.length} answered 202 just before the kill, AOF cut ${Math.round(cutBytes / 1024)} KiB: ` +
        `${lostByRedis} acknowledged deliveries lost by Redis; ${refusedWhileDown} answered 503 while down; ` +
        `${redelivered.size} redelivered by the workers' pass (${redeliveries.length} attempts); all applied once, ${took} s from the first send`,
    });
  },
};

/** Accepted deliveries Redis no longer holds a job for and the workers never applied: nothing but a redelivery brings them back. */
async function lostInRedis(stack: Stack, accepted: string[]): Promise<number> {
  const queues = openQueues(stack.redisUrl);
  try {
    const webhooks = queues.find((q) => q.name === QUEUES.webhooks)!;
    // Redis first: a job there may be applied meanwhile, but nothing adds a job for these ids until a redelivery.
    const jobs = await Promise.all(accepted.map((id) => webhooks.getJob(id)));
    const missing = accepted.filter((_, i) => !jobs[i]);
    const { rows } = await stack.db.query<{ delivery_id: string }>('SELECT delivery_id FROM processed_deliveries WHERE delivery_id = ANY($1)', [missing]);
    return missing.length - rows.length;
  } finally {
    await closeQueues(queues);
  }
}
