import { check, unexpectedAnswers, waitForQuiet } from '../check.js';
import { lifecycleDeliveries, send } from '../deliveries.js';
import { sleep } from '../stack.js';
import type { Scenario } from './context.js';

/** One worker process SIGKILLed again and again while a burst is consumed; a new one started each time. */
export const workerKilled: Scenario = {
  name: 'worker-killed',
  async run(ctx) {
    const { stack, ingest, full } = ctx;
    // 1,111 PRs make 5,000 deliveries (4 or 5 each).
    const { deliveries, expected } = await lifecycleDeliveries(full ? 1_111 : 120, 10_000);
    let done = false;
    const burst = send(ingest.port, deliveries).finally(() => (done = true));
    let kills = 0;
    const maxKills = full ? 20 : 6;
    const ids = deliveries.map((d) => d.deliveryId);
    const working = async () => {
      const { rows } = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM processed_deliveries WHERE delivery_id = ANY($1)', [ids]);
      return rows[0]!.n < ids.length;
    };
    // Kills go on after the burst has been accepted, while the workers are still working through it.
    while (kills < maxKills && (!done || (await working()))) {
      await sleep(full ? 1_500 : 700);
      await stack.kill(ctx.workers[0]!, 'SIGKILL');
      kills++;
      ctx.workers[0] = await stack.startService('worker', 'worker-1');
    }
    const { accepted, statuses } = await burst;
    const problems = unexpectedAnswers(statuses);
    await waitForQuiet(stack, accepted, 300_000, problems);
    return check(stack, `worker SIGKILLed ${kills}× during a burst`, deliveries.length, accepted, expected, { problems });
  },
};
