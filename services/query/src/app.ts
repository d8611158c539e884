import express, { type NextFunction, type Request, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Queue } from 'bullmq';
import type { Queryable } from '@ephemera/db';
import type { JobSigner, Logger, RenewingQueue } from '@ephemera/runtime';
import { previewConfigJsonSchema } from '@ephemera/schema';
import { requireApiToken, requireWriteToken, type ActionLimit, type ApiAuth } from './access.js';
import { createActionRoutes } from './action-routes.js';
import { createApiRoutes } from './api-routes.js';
import { BULL_BOARD_PATH, mountBullBoard, type BullBoardOptions } from './bull-board.js';
import { createDashboard, type DashboardDeps } from './dashboard/create-dashboard.js';
import type { QueryMetrics } from './metrics.js';
import { createOpenApiDocument } from './openapi.js';
import { problem } from './problem.js';
import { createSetup, type SetupDeps } from './setup/create-setup.js';

export { ACTION_RETRY_AFTER_SECONDS } from './action-routes.js';

export interface QueryAppDeps {
  /** A node-postgres pool: the service only reads. */
  db: Queryable;
  /** Every queue Ephemera uses, for Bull Board. */
  queues: Queue[];
  /**
   * The actions queue (`ephemera-actions`) the API adds redeploy and destroy jobs to. Its connection should fail
   * fast (the `producer` kind) so that an answer does not wait for Redis to come back; it is made again when its
   * start-up check of Redis failed.
   */
  actionsQueue: RenewingQueue<Queue>;
  /** Signs the action jobs (QUEUE_SIGNING_KEY): the worker refuses a job without a valid signature. */
  jobSigner: JobSigner;
  metrics: QueryMetrics;
  logger: Logger;
  /** Bearer tokens the API accepts (API_TOKENS). Given tokens always apply. */
  apiTokens: readonly string[];
  /** `none` with no tokens: the API is open on purpose (API_AUTH=none). No tokens otherwise: createApp throws. */
  apiAuth?: ApiAuth | undefined;
  /**
   * Bearer tokens that may redeploy and destroy, and read (API_WRITE_TOKENS); none (the default): the actions are
   * refused. A token in both lists: createApp throws.
   */
  apiWriteTokens?: readonly string[] | undefined;
  /** Actions per write token and window (default `DEFAULT_ACTION_LIMIT`: 30 a minute). */
  actionLimit?: ActionLimit | undefined;
  /** How long an action may wait for Redis before the answer is 503 (default `DEFAULT_ENQUEUE_TIMEOUT_MS`). */
  enqueueTimeoutMs?: number | undefined;
  /**
   * Bull Board at /admin/queues: served only with both credentials (404 otherwise); read-only unless `write`
   * (ADMIN_WRITE=true). `loginLimit`: failed logins per client address and window (default 10 per 15 minutes).
   * `signIn: false` (ADMIN_SIGN_IN=off): the dashboard has no operator sign-in form.
   */
  admin: BullBoardOptions & { signIn?: boolean | undefined };
  /**
   * The environments dashboard at `/` (sign-in, sessions, pages); not served without it. The operator's sign-in
   * form uses `admin`'s credentials, and `admin.loginLimit` when given instead of the dashboard's own per address.
   */
  dashboard?: Omit<DashboardDeps, 'db' | 'logger' | 'operator' | 'loginLimit' | 'setupOffered'> | undefined;
  /**
   * Registering the GitHub App at /setup (GitHub's App manifest flow), while none is configured; not served without it.
   * The dashboard's front page offers it to those it would serve.
   */
  setup?: Omit<SetupDeps, 'logger'> | undefined;
}

const OPENAPI_PATH = '/api/v1/openapi.json';
const CONFIG_SCHEMA_PATH = '/api/v1/config-schema.json';

/** Times every request and counts it by route and status (Bull Board's requests as one route). */
function countRequests(app: express.Express, metrics: QueryMetrics): void {
  app.use((req, res, next) => {
    const stop = metrics.seconds.startTimer();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? (req.path.startsWith(BULL_BOARD_PATH) ? BULL_BOARD_PATH : 'unmatched');
      stop({ route });
      metrics.requests.inc({ route, status: String(res.statusCode) });
    });
    next();
  });
}

/** Health, readiness and metrics; the OpenAPI document, its reference page and the JSON Schema of `.ephemera.yml`. */
function mountOperations(app: express.Express, db: Queryable, metrics: QueryMetrics): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await db.query('SELECT 1').then(
      () => true,
      () => false,
    );
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', database: ok ? 'ok' : 'unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const document = createOpenApiDocument();
  app.get(OPENAPI_PATH, (_req, res) => {
    res.json(document);
  });
  // Public like the OpenAPI document: editors fetch it without credentials, and it says nothing about environments.
  const configSchema = JSON.stringify(previewConfigJsonSchema());
  app.get(CONFIG_SCHEMA_PATH, (_req, res) => {
    res.type('application/schema+json').send(configSchema);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: OPENAPI_PATH }, customSiteTitle: 'Ephemera API' }));
}

/** The environments dashboard and /setup, when configured; the dashboard's operator form uses Bull Board's credentials. */
function createPages(deps: QueryAppDeps) {
  const { username, password, signIn = true } = deps.admin;
  const setup = deps.setup ? createSetup({ ...deps.setup, logger: deps.logger.child({ component: 'setup' }) }) : undefined;
  const dashboard = deps.dashboard
    ? createDashboard({
        ...deps.dashboard,
        db: deps.db,
        logger: deps.logger,
        operator: username !== undefined && password !== undefined && signIn ? { username, password } : undefined,
        loginLimit: deps.admin.loginLimit,
        setupOffered: setup?.offered,
      })
    : undefined;
  return { setup, dashboard };
}

/** The last handlers: 404 for any other route, and a problem document for an unexpected error. */
function mountFallbacks(app: express.Express, logger: Logger): void {
  app.use((_req, res) => {
    problem(res, 404, 'Not Found', 'no such route');
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, 'unexpected error');
    if (res.headersSent) return;
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) return problem(res, status, 'Bad Request', 'the request could not be read');
    return problem(res, 500, 'Internal Server Error', 'internal error');
  });
}

/**
 * The query service: environments REST API (reads, and the redeploy and destroy actions, which it queues for the
 * worker), OpenAPI document and reference page, Bull Board, the environments dashboard, /setup, and operations
 * endpoints. `createServer` is the caller's; tests use supertest on the app.
 */
export function createApp(deps: QueryAppDeps): express.Express {
  const { db, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');

  countRequests(app, metrics);
  mountOperations(app, db, metrics);
  // Without both credentials Bull Board is not served: /admin/queues falls through to the 404 below.
  mountBullBoard(app, deps.queues, deps.admin);

  const { setup, dashboard } = createPages(deps);
  const writeTokens = deps.apiWriteTokens ?? [];
  const readGuard = requireApiToken(deps.apiTokens, deps.apiAuth, writeTokens);
  const actions = createActionRoutes({
    db,
    actionsQueue: deps.actionsQueue,
    jobSigner: deps.jobSigner,
    logger: deps.logger,
    tokenGuards: [readGuard, requireWriteToken(writeTokens, deps.apiTokens)],
    session: dashboard,
    actionLimit: deps.actionLimit,
    enqueueTimeoutMs: deps.enqueueTimeoutMs,
  });
  // The actions come before the read guard: a signed-in session asks for them without a token.
  app.use('/api/v1', actions, createApiRoutes(db, readGuard));
  if (setup) app.use(setup.router);
  if (dashboard) app.use(dashboard.router);

  mountFallbacks(app, deps.logger);
  return app;
}
