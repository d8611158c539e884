export * from './webhook-examples.js';
export * from './signed-delivery.js';
export * from './scratch-redis.js';
export { freePort, startPostgres, startRedis, type RunningServer } from '@ephemera/devstack/servers';
export * from './fake-github.js';
export * from './pull-request-payload.js';
export * from './shuffled.js';
export * from './load-generator.js';
export * from './fake-kubernetes.js';
