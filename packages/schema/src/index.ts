export * from './statuses.js';
export * from './state-machine.js';
export * from './namespace.js';
export * from './queues.js';
export * from './webhook-job.js';
export * from './trim-webhook-payload.js';
export * from './api.js';
export * from './follow-up-jobs.js';
