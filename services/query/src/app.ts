import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { z } from 'zod';
import { environmentExists, findEnvironment, listDeployments, listEnvironments, readActionTarget, type Queryable } from '@ephemera/db';
import type { JobSigner, Logger, RenewingQueue } from '@ephemera/runtime';
import { ACTIVE_ENVIRONMENT_STATUSES, environmentActionJobSchema, previewConfigJsonSchema, type ActionRequester } from '@ephemera/schema';
import {
  AUTHORITY,
  DEFAULT_ACTION_LIMIT,
  DEFAULT_LOGIN_LIMIT,
  basicCredentials,
  guardAdminWrites,
  limitActions,
  limitFailedLogins,
  requireApiToken,
  requireBasicAuth,
  requireWriteToken,
  type ActionLimit,
  type ApiAuth,
  type LoginLimit,
} from './access.js';
import { ACTION_NAMES, actionAcceptedSchema, environmentIdParams, listDeploymentsQuery, listEnvironmentsQuery, namespaceParams } from './api-schemas.js';
import { deploymentCursors, environmentCursors } from './cursor.js';
import { DEFAULT_ENQUEUE_TIMEOUT_MS, EnqueueTimeoutError, actionRefusal, enqueueAction } from './environment-actions.js';
import type { QueryMetrics } from './metrics.js';
import { createDashboard, type DashboardDeps } from './dashboard/create-dashboard.js';
import { createOpenApiDocument } from './openapi.js';
import { problem } from './problem.js';
import { createSetup, type SetupDeps } from './setup/create-setup.js';

export interface QueryAppDeps {
  /** A node-postgres pool: the service only reads. */
  db: Queryable;
  /** Every queue Ephemera uses, for the dashboard. */
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
  /** Actions per write token and window (default {@link DEFAULT_ACTION_LIMIT}). */
  actionLimit?: ActionLimit | undefined;
  /** How long an action may wait for Redis before the answer is 503 (default {@link DEFAULT_ENQUEUE_TIMEOUT_MS}). */
  enqueueTimeoutMs?: number | undefined;
  /**
   * Bull Board at /admin/queues: served only with both credentials (404 otherwise); read-only unless `write`
   * (ADMIN_WRITE=true). `loginLimit`: failed logins per client address and window (default 10 per 15 minutes).
   * `signIn: false` (ADMIN_SIGN_IN=off): the dashboard has no operator sign-in form.
   */
  admin: { username?: string | undefined; password?: string | undefined; write?: boolean | undefined; loginLimit?: LoginLimit | undefined; signIn?: boolean | undefined };
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

type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
/** Runs handlers in turn as a route would, stopping at the first that answers or fails. */
function runChain(handlers: readonly Handler[], req: Request, res: Response, next: NextFunction): void {
  let i = 0;
  const step = (err?: unknown): void => {
    if (err) return next(err);
    const handler = handlers[i++];
    if (!handler) return next();
    Promise.resolve(handler(req, res, step)).catch(next);
  };
  step();
}

const OPENAPI_PATH = '/api/v1/openapi.json';
/** Seconds a client should wait before asking again for an action that Redis could not take (503 Retry-After). */
export const ACTION_RETRY_AFTER_SECONDS = 5;
const CONFIG_SCHEMA_PATH = '/api/v1/config-schema.json';

/** Parses with the schema; on failure answers 400 naming the offending parameter and returns undefined. */
function parse<T extends z.ZodType>(schema: T, value: unknown, res: Response): z.infer<T> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const parameter = String(issue.path[0] ?? 'query');
  problem(res, 400, 'Bad Request', `${parameter}: ${issue.message}`, { parameter });
  return undefined;
}

/**
 * Sends JSON that PostgreSQL already serialised. As one Buffer: a page joined from row strings is a rope that
 * Node would otherwise flatten and encode inside the socket write, at a large share of the CPU a page costs.
 */
function sendJsonText(res: Response, json: string): void {
  const body = Buffer.from(json, 'utf8');
  // Written directly: express's send() would check request freshness and content types for a body that has
  // neither an ETag nor a choice of type (Node itself leaves the body out of a HEAD answer).
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/**
 * The URL of the next page: the request's own query with the new cursor. Built from strings rather than with
 * `new URL` and `req.protocol`, which cost a tenth of a list request's CPU (the trust-proxy check parses the
 * peer's address on every call); `req.protocol` is only consulted when a proxy forwarded the request. A Host
 * header that is not a plain authority gives a relative link, which RFC 8288 resolves against the request.
 */
function nextLink(req: Request, cursor: string): string {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  params.set('cursor', cursor);
  const target = `${q === -1 ? url : url.slice(0, q)}?${params.toString()}`;
  const host = req.headers.host;
  if (host === undefined || !AUTHORITY.test(host)) return `<${target}>; rel="next"`;
  const protocol = req.headers['x-forwarded-proto'] === undefined ? ((req.socket as TLSSocket).encrypted ? 'https' : 'http') : req.protocol;
  return `<${protocol}://${host}${target}>; rel="next"`;
}

/**
 * The query service: environments REST API (reads, and the redeploy and destroy actions, which it queues for the
 * worker), OpenAPI document and reference page, Bull Board, and operations endpoints. `createServer` is the
 * caller's; tests use supertest on the app.
 */
export function createApp(deps: QueryAppDeps): express.Express {
  const { db, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');

  app.use((req, res, next) => {
    const stop = metrics.seconds.startTimer();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? (req.path.startsWith('/admin/queues') ? '/admin/queues' : 'unmatched');
      stop({ route });
      metrics.requests.inc({ route, status: String(res.statusCode) });
    });
    next();
  });

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

  const { username, password, write = false, loginLimit = DEFAULT_LOGIN_LIMIT, signIn = true } = deps.admin;
  if (username !== undefined && password !== undefined) {
    const board = new ExpressAdapter();
    board.setBasePath('/admin/queues');
    // Bull Board's own read-only mode hides the buttons that change queues; guardAdminWrites refuses the requests.
    createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !write })), serverAdapter: board });
    const credentials = basicCredentials(username, password);
    app.use('/admin/queues', limitFailedLogins(credentials, loginLimit), requireBasicAuth(credentials), guardAdminWrites(write), board.getRouter());
  }
  // Without both credentials the dashboard is not served: /admin/queues falls through to the 404 below.

  const writeTokens = deps.apiWriteTokens ?? [];
  const setup = deps.setup ? createSetup({ ...deps.setup, logger: deps.logger.child({ component: 'setup' }) }) : undefined;
  const dashboard = deps.dashboard
    ? createDashboard({
        ...deps.dashboard,
        db,
        logger: deps.logger,
        operator: username !== undefined && password !== undefined && signIn ? { username, password } : undefined,
        loginLimit: deps.admin.loginLimit,
        setupOffered: setup?.offered,
      })
    : undefined;
  // The actions come before the read guard: a signed-in session asks for them without a token.
  const actions = express.Router();
  const api = express.Router();
  const readGuard = requireApiToken(deps.apiTokens, deps.apiAuth, writeTokens);
  api.use(readGuard);

  api.get('/environments', async (req, res) => {
    const q = parse(listEnvironmentsQuery, req.query, res);
    if (!q) return;
    const after = q.cursor ? environmentCursors.decode(q.cursor) : undefined;
    if (after === null) return problem(res, 400, 'Bad Request', 'cursor: not a cursor this API issued', { parameter: 'cursor' });
    let statuses = q.status === undefined ? undefined : Array.isArray(q.status) ? q.status : [q.status];
    if (q.active_only) statuses = (statuses ?? [...ACTIVE_ENVIRONMENT_STATUSES]).filter((s) => s !== 'DESTROYED');
    if (statuses?.length === 0) return res.json([]);
    const page = await listEnvironments(db, {
      ...(q.repository ? { repositoryFullName: q.repository } : {}),
      ...(statuses ? { statuses } : {}),
      ...(q.pr_number !== undefined ? { prNumber: q.pr_number } : {}),
      ...(after ? { after } : {}),
      limit: q.limit,
    });
    if (page.next) res.set('Link', nextLink(req, environmentCursors.encode(page.next.createdAt, page.next.id)));
    return sendJsonText(res, page.body);
  });

  api.get('/environments/namespace/:namespace', async (req, res) => {
    const p = parse(namespaceParams, req.params, res);
    if (!p) return;
    const env = await findEnvironment(db, { namespace: p.namespace });
    if (!env) return problem(res, 404, 'Not Found', `no environment with namespace ${p.namespace}`);
    return sendJsonText(res, env.json);
  });

  api.get('/environments/:id', async (req, res) => {
    const p = parse(environmentIdParams, req.params, res);
    if (!p) return;
    const env = await findEnvironment(db, { id: p.id });
    if (!env) return problem(res, 404, 'Not Found', `no environment ${p.id}`);
    return sendJsonText(res, env.json);
  });

  api.get('/environments/:id/deployments', async (req, res) => {
    const p = parse(environmentIdParams, req.params, res);
    if (!p) return;
    const q = parse(listDeploymentsQuery, req.query, res);
    if (!q) return;
    const afterId = q.cursor ? deploymentCursors.decode(q.cursor) : undefined;
    if (afterId === null) return problem(res, 400, 'Bad Request', 'cursor: not a cursor this API issued', { parameter: 'cursor' });
    if (!(await environmentExists(db, p.id))) return problem(res, 404, 'Not Found', `no environment ${p.id}`);
    const rows = await listDeployments(db, p.id, {
      ...(afterId !== undefined ? { afterId } : {}),
      limit: q.limit + 1,
      includeLogs: q.include_logs ?? false,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    if (rows.length > q.limit && last) res.set('Link', nextLink(req, deploymentCursors.encode(last.id)));
    return sendJsonText(res, `[${page.map((r) => r.json).join(',')}]`);
  });

  // The actions: a job each for the worker, which applies it under the pull request's lock. Checked here first so
  // that the caller hears at once when an action does not apply; the worker checks again when it runs.
  const writeGuard = requireWriteToken(writeTokens, deps.apiTokens);
  const tokenGuards: Handler[] = [readGuard, writeGuard];
  const actionGuard: Handler = (req, res, next) =>
    runChain(dashboard?.carriesSession(req) ? dashboard.actionSession : tokenGuards, req, res, next);
  const actionLimiter = limitActions(deps.actionLimit ?? DEFAULT_ACTION_LIMIT);
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
  for (const action of ACTION_NAMES) {
    actions.post(`/environments/:id/${action}`, actionGuard, actionLimiter, async (req, res) => {
      const p = parse(environmentIdParams, req.params, res);
      if (!p) return;
      const target = await readActionTarget(db, p.id);
      if (!target) return problem(res, 404, 'Not Found', `no environment ${p.id}`);
      const refusal = actionRefusal(action, p.id, target);
      // A dashboard form: back to the page, which says why while it is still so.
      if (refusal && res.locals.fromForm === true) return res.redirect(303, `/environments/${p.id}?refused=${action}`);
      if (refusal) return problem(res, 409, 'Conflict', refusal);
      const job = environmentActionJobSchema.parse({
        requestId: randomUUID(),
        environmentId: p.id,
        requestedBy: res.locals.requester as ActionRequester,
        requestedAt: new Date().toISOString(),
      });
      try {
        await enqueueAction(deps.actionsQueue, deps.jobSigner, action, job, enqueueTimeoutMs);
      } catch (err) {
        deps.logger.warn({ err: { message: (err as Error).message }, action, environment_id: p.id }, 'could not queue an action');
        res.set('Retry-After', String(ACTION_RETRY_AFTER_SECONDS));
        const why = err instanceof EnqueueTimeoutError ? 'the queue did not take the action in time' : 'the queue is unavailable';
        return problem(res, 503, 'Service Unavailable', `${why}; nothing was queued: ask again later`);
      }
      deps.logger.info({ action, environment_id: p.id, request_id: job.requestId, requested_by: job.requestedBy.login }, 'action queued');
      // A dashboard form without JavaScript: back to the environment's page, which says what was queued.
      if (res.locals.fromForm === true) return res.redirect(303, `/environments/${p.id}?queued=${action}`);
      return res.status(202).json(actionAcceptedSchema.parse({ action, environment_id: p.id, request_id: job.requestId, status: 'queued' }));
    });
  }

  app.use('/api/v1', actions, api);
  if (setup) app.use(setup.router);
  if (dashboard) app.use(dashboard.router);

  app.use((_req, res) => {
    problem(res, 404, 'Not Found', 'no such route');
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, 'unexpected error');
    if (res.headersSent) return;
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) return problem(res, status, 'Bad Request', 'the request could not be read');
    return problem(res, 500, 'Internal Server Error', 'internal error');
  });
  return app;
}
