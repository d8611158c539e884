export * from './config.js';
export * from './create-service.js';
export * from './log-errors.js';
export * from './logger.js';
export * from './redis.js';
export * from './shutdown.js';
export * from './renewing-queue.js';
export * from './job-signature.js';
