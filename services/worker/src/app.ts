import express from 'express';
import type { PrismaClient } from '@ephemera/db';
import { redisReachable } from '@ephemera/runtime';
import type { Redis } from 'ioredis';
import type { WorkerMetrics } from './metrics.js';
import type { WorkerQueues } from './queues.js';

export interface WorkerAppDeps {
  db: PrismaClient;
  redis: Redis;
  queues: WorkerQueues;
  metrics: WorkerMetrics;
}

/** The worker's operations endpoints: liveness, readiness (database and Redis), Prometheus metrics. */
export function createApp({ db, redis, queues, metrics }: WorkerAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const [database, queue] = await Promise.all([
      db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ),
      redisReachable(redis),
    ]);
    const ok = database && queue;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', database: database ? 'ok' : 'unreachable', redis: queue ? 'ok' : 'unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    // Queue depth is read when scraped, so it is never stale and costs nothing between scrapes.
    await Promise.all(
      queues.all.map(async (q) => {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized').catch(() => null);
        if (counts) for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue: q.name, state }, n);
      }),
    );
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'no such route' });
  });
  return app;
}
