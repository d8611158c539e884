import { check, unexpectedAnswers, waitForQuiet } from '../check.js';
import { lifecycleDeliveries, resendRefused, send } from '../deliveries.js';
import { sleep } from '../stack.js';
import type { Scenario } from './context.js';

/**
 * Redis (append-only file on) restarted in the middle of a steady stream of deliveries. While it is down,
 * ingest must refuse with 503, never accept what it could not store; everything accepted is applied, and
 * sending the refused deliveries again completes the picture.
 */
export const redisRestarted: Scenario = {
  name: 'redis-restarted',
  async run({ stack, ingest, full }) {
    const { deliveries, expected } = await lifecycleDeliveries(full ? 500 : 100, 20_000);
    const perSecond = 100;
    const downMs = 4_000;
    const stream = send(ingest.port, deliveries, { perSecond });
    // Down for the middle stretch of the stream.
    await sleep(Math.min(3_000, (deliveries.length / perSecond) * 250));
    await stack.restartRedis(downMs);
    const first = await stream;
    const refusedAtFirst = first.refused.length;
    const again = await resendRefused(ingest.port, first.refused);
    const accepted = [...first.accepted, ...again.accepted];

    const problems = unexpectedAnswers(first.statuses, ['202', '503'], ' while Redis restarted');
    if (refusedAtFirst === 0) problems.push('no delivery was refused: the restart missed the stream');
    if (again.refused.length > 0) problems.push(`${again.refused.length} deliveries still refused after Redis returned`);
    await waitForQuiet(stack, accepted, 300_000, problems);
    return check(stack, `Redis restarted mid-stream (down ${downMs / 1000} s)`, deliveries.length, accepted, expected, {
      problems,
      detail: `${refusedAtFirst} answered 503 while down, all accepted when sent again`,
    });
  },
};
