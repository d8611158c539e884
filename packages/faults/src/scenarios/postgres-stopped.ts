import { check, unexpectedAnswers, waitForQuiet } from '../check.js';
import { lifecycleDeliveries, send } from '../deliveries.js';
import { sleep } from '../stack.js';
import type { Scenario } from './context.js';

/**
 * PostgreSQL stopped for 15 s in the middle of a stream: ingest keeps accepting (it needs only Redis), the
 * workers' jobs fail and are retried, and everything completes once the database is back.
 */
export const postgresStopped: Scenario = {
  name: 'postgres-stopped',
  async run({ stack, ingest, full }) {
    const { deliveries, expected } = await lifecycleDeliveries(full ? 500 : 100, 30_000);
    const downMs = 15_000;
    const perSecond = Math.ceil(deliveries.length / 20);
    const stream = send(ingest.port, deliveries, { perSecond });
    await sleep(3_000);
    await stack.restartPostgres(downMs);
    const { accepted, statuses } = await stream;
    const problems = unexpectedAnswers(statuses);
    const tookMs = await waitForQuiet(stack, accepted, 300_000, problems);
    return check(stack, `PostgreSQL stopped ${downMs / 1000} s mid-stream`, deliveries.length, accepted, expected, {
      problems,
      detail: `drained ${(tookMs / 1000).toFixed(1)} s after the stream ended`,
    });
  },
};
