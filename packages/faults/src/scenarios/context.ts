import type { Outcome } from '../check.js';
import type { Service, Stack } from '../stack.js';

/** What every scenario gets: the running stack and its services. Workers are replaced when killed. */
export interface ScenarioContext {
  stack: Stack;
  ingest: Service;
  query: Service;
  workers: Service[];
  /** The sizes (`FAULTS_SCALE=full`) rather than the bounded run `npm test` makes. */
  full: boolean;
}

export interface Scenario {
  name: string;
  run(ctx: ScenarioContext): Promise<Outcome>;
}
