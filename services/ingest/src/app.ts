import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '@ephemera/runtime';
import { AccountAllowList, WEBHOOK_PATH } from '@ephemera/schema';
import { DEFAULT_MAX_INFLIGHT_BYTES } from './config.js';
import type { IngestMetrics } from './metrics.js';
import { errorSummary, fail, tooLarge } from './replies.js';
import { InflightBudget } from './request-body.js';
import type { SignatureVerifier } from './signature-verifier.js';
import { webhookHandler } from './webhook-route.js';
import type { WebhookSink } from './webhook-queue.js';

// The path is the App's too (its webhook URL, which /setup registers): defined with the App's other settings.
export { WEBHOOK_PATH };
export { RETRY_AFTER_SECONDS } from './replies.js';
export { createServer } from './server.js';

interface IngestDeps {
  verifier: SignatureVerifier;
  queue: WebhookSink;
  logger: Logger;
  metrics: IngestMetrics;
  /** INGEST_MAX_INFLIGHT_BYTES: bytes of request bodies read or held at once; 64 MiB when not given. */
  maxInflightBytes?: number;
  /** ALLOWED_ACCOUNTS: the GitHub accounts whose deliveries are queued; every account's when not given. */
  allowedAccounts?: AccountAllowList;
}

/**
 * The ingest HTTP app, not listening: `createServer(createApp(deps))` in main, supertest in the tests.
 * A 2xx means the delivery is in Redis (or deliberately not needed there: ignored, duplicate, ping).
 */
export function createApp(deps: IngestDeps): express.Express {
  const { queue, logger, metrics } = deps;
  const budget = new InflightBudget(deps.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES);
  metrics.setInflightBytes(() => budget.used);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // The webhook route comes first: see webhookHandler.
  app.post(WEBHOOK_PATH, webhookHandler({ ...deps, budget, allowed: deps.allowedAccounts ?? AccountAllowList.ANY }));

  // Every other route is counted here; the webhook route counts its own requests in the listener it already has.
  app.use((req, res, next) => {
    res.on('finish', () => {
      metrics.requests.inc({ route: (req.route?.path as string | undefined) ?? 'other', status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await queue.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', redis: ok ? 'ok' : 'unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((_req, res) => {
    fail(res, 404, 'not_found', 'no such route');
  });

  // Errors raised by express itself (body parser limits, aborted requests) and anything unexpected.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; type?: string; expose?: boolean };
    const status = e.status ?? e.statusCode ?? 500;
    if (res.headersSent) return;
    if (e.type === 'entity.too.large') return tooLarge(res);
    if (status >= 400 && status < 500) {
      return fail(res, status, e.type ? e.type.replace(/\W+/g, '_') : 'bad_request', 'the request could not be read');
    }
    logger.error({ err: errorSummary(err) }, 'unexpected error');
    return fail(res, 500, 'internal_error', 'internal error');
  });

  return app;
}
