import { check, closeQueues, openQueues, queueDepth, unexpectedAnswers, waitForQuiet } from '../check.js';
import { lifecycleDeliveries, send } from '../deliveries.js';
import { QUERY_API_TOKEN, residentMb, sleep } from '../stack.js';
import type { Scenario } from './context.js';

/** Growth of a service's resident memory over the run that still counts as steady. */
const MEMORY_BOUND_MB = 150;
/** How long the same traffic runs before the memory at the start is measured. */
const WARM_UP_SECONDS = 20;

/**
 * A steady rate of deliveries for a while (two minutes at full scale), the API read alongside: the memory of
 * every service at start and end, the queues drained to zero afterwards.
 */
export const sustainedLoad: Scenario = {
  name: 'sustained-load',
  async run({ stack, ingest, query, workers, full }) {
    const seconds = full ? 120 : 20;
    const perSecond = 40;
    const prs = Math.ceil((seconds * perSecond) / 4.5);
    const { deliveries, expected } = await lifecycleDeliveries(prs, 40_000);
    const services = [ingest, query, ...workers];
    const problems: string[] = [];
    // The same traffic for a while first, so the memory measured at the start is each service's under this load:
    // a process that has just started (a worker replaced by an earlier scenario, or this scenario run alone) grows
    // its heap to its working size in the first seconds, which is no leak. The deliveries count like the others.
    const warm = await lifecycleDeliveries(Math.ceil((WARM_UP_SECONDS * perSecond) / 4.5), 48_000);
    const warmed = await send(ingest.port, warm.deliveries, { perSecond, concurrency: 10 });
    await waitForQuiet(stack, warmed.accepted, 120_000, problems);
    const before = await Promise.all(services.map(residentMb));

    let reading = true;
    let reads = 0;
    let readErrors = 0;
    const reader = (async () => {
      while (reading) {
        const r = await fetch(`http://127.0.0.1:${query.port}/api/v1/environments?active_only=true&limit=50`, {
          headers: { authorization: `Bearer ${QUERY_API_TOKEN}` },
        }).catch(() => null);
        if (r?.ok) reads++;
        else readErrors++;
        await r?.arrayBuffer();
        await sleep(200);
      }
    })();
    const started = Date.now();
    const { accepted, statuses } = await send(ingest.port, deliveries, { perSecond, concurrency: 10 });
    const sendSeconds = (Date.now() - started) / 1000;
    const queues = openQueues(stack.redisUrl);
    const { depth: depthAtEnd } = await queueDepth(queues).finally(() => closeQueues(queues));
    const drainMs = await waitForQuiet(stack, accepted, 300_000, problems);
    reading = false;
    await reader;
    const after = await Promise.all(services.map(residentMb));

    problems.push(...unexpectedAnswers(warmed.statuses), ...unexpectedAnswers(statuses));
    if (readErrors > 0) problems.push(`${readErrors} API reads failed`);
    services.forEach((s, i) => {
      if (after[i]! - before[i]! > MEMORY_BOUND_MB) problems.push(`${s.name} memory grew ${before[i]} → ${after[i]} MB`);
    });
    const memory = services.map((s, i) => `${s.name} ${before[i]}→${after[i]}`).join(', ');
    return check(stack, `sustained ${perSecond}/s for ${Math.round(sendSeconds)} s`, warm.deliveries.length + deliveries.length, [...warmed.accepted, ...accepted], new Map([...warm.expected, ...expected]), {
      problems,
      detail: `memory MB ${memory} (after ${WARM_UP_SECONDS} s of warm-up); depth ${depthAtEnd} at the end of the stream, 0 after ${(drainMs / 1000).toFixed(1)} s; ${reads} API reads`,
    });
  },
};
