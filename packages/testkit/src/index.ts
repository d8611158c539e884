export * from './webhook-examples.js';
export * from './signed-delivery.js';
export * from './scratch-redis.js';
