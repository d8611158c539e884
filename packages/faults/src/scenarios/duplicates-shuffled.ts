import { shuffled } from '@ephemera/testkit';
import { check, unexpectedAnswers, waitForQuiet } from '../check.js';
import { lifecycleDeliveries, send } from '../deliveries.js';
import type { Scenario } from './context.js';

/** Every delivery sent twice, in shuffled order, consumed by two worker processes: the calm run's final state. */
export const duplicatesShuffled: Scenario = {
  name: 'duplicates-shuffled',
  async run({ stack, ingest, full }) {
    const { deliveries, expected } = await lifecycleDeliveries(full ? 600 : 40, 1);
    const twice = shuffled([...deliveries, ...deliveries], 11);
    const { accepted, statuses } = await send(ingest.port, twice);
    const problems = unexpectedAnswers(statuses);
    await waitForQuiet(stack, accepted, 180_000, problems);
    return check(stack, 'same deliveries twice, shuffled, two workers', twice.length, accepted, expected, { problems });
  },
};
