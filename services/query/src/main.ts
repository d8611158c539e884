import { Queue } from 'bullmq';
import { createReadPool } from '@ephemera/db';
import { createLogger, createRedis, onShutdown } from '@ephemera/runtime';
import { ALL_QUEUES } from '@ephemera/schema';
import { createApp } from './app.js';
import { loadQueryConfig } from './config.js';
import { createQueryMetrics } from './metrics.js';

let config;
try {
  config = loadQueryConfig();
} catch (err) {
  process.stderr.write(`query: ${(err as Error).message}\n`);
  process.exit(1);
}
const logger = createLogger({ service: 'query', level: config.LOG_LEVEL });
if (config.API_TOKENS.length === 0) {
  logger.warn('API_TOKENS is not set: the environments API is open to anyone who can reach it');
}
if (!config.ADMIN_USERNAME) logger.warn('ADMIN_USERNAME/ADMIN_PASSWORD are not set: /admin/queues is open');

const db = createReadPool({ databaseUrl: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE });
db.on('error', (err) => logger.warn({ err: { message: err.message } }, 'idle database connection error'));
const redis = createRedis(config.REDIS_URL, 'worker');
redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
const queues = ALL_QUEUES.map((name) => {
  const q = new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX });
  q.on('error', () => undefined);
  return q;
});
const app = createApp({
  db,
  queues,
  metrics: createQueryMetrics(),
  logger,
  apiTokens: config.API_TOKENS,
  admin: { username: config.ADMIN_USERNAME, password: config.ADMIN_PASSWORD },
});
const server = app.listen(config.QUERY_PORT, () => {
  logger.info({ port: config.QUERY_PORT }, `query listening on :${config.QUERY_PORT} (API /api/v1, docs /docs, queues /admin/queues)`);
});
server.on('error', (err: NodeJS.ErrnoException) => {
  logger.fatal({ err: { message: err.message, code: err.code } }, err.code === 'EADDRINUSE' ? `port ${config.QUERY_PORT} is already in use (QUERY_PORT)` : 'server error');
  process.exit(1);
});

onShutdown(logger, async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await Promise.all(queues.map((q) => q.close()));
  await redis.quit().catch(() => undefined);
  await db.end();
});
