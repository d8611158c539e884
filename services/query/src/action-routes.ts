import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { readActionTarget, type Queryable } from '@ephemera/db';
import type { JobSigner, Logger, RenewingQueue } from '@ephemera/runtime';
import { environmentActionJobSchema, type ActionRequester, type EnvironmentAction } from '@ephemera/schema';
import { DEFAULT_ACTION_LIMIT, limitActions, type ActionLimit } from './access.js';
import { parse } from './api-routes.js';
import { ACTION_NAMES, actionAcceptedSchema, environmentIdParams } from './api-schemas.js';
import { DEFAULT_ENQUEUE_TIMEOUT_MS, EnqueueTimeoutError, actionRefusal, enqueueAction } from './environment-actions.js';
import { problem } from './problem.js';

/** Seconds a client should wait before asking again for an action that Redis could not take (503 Retry-After). */
export const ACTION_RETRY_AFTER_SECONDS = 5;

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

export interface ActionRoutesDeps {
  db: Queryable;
  actionsQueue: RenewingQueue<Queue>;
  jobSigner: JobSigner;
  logger: Logger;
  /** The guards of a request with a token: the read guard, then the write guard. */
  tokenGuards: readonly Handler[];
  /** The dashboard's session guard, for a request that stands for a session rather than a token. */
  session?: { carriesSession(req: Request): boolean; actionSession: readonly Handler[] } | undefined;
  actionLimit?: ActionLimit | undefined;
  enqueueTimeoutMs?: number | undefined;
}

/** Queues one action's signed job for the environment, and answers (202, or 303 back to a dashboard form). */
function queueAction(deps: ActionRoutesDeps, action: EnvironmentAction): RequestHandler {
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
  return async (req, res) => {
    const p = parse(environmentIdParams, req.params, res);
    if (!p) return;
    const target = await readActionTarget(deps.db, p.id);
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
  };
}

/**
 * The API's actions (mounted at /api/v1 before the reads, since a signed-in session asks for them without a token):
 * a job each for the worker, which applies it under the pull request's lock. Checked here first so that the caller
 * hears at once when an action does not apply; the worker checks again when it runs.
 */
export function createActionRoutes(deps: ActionRoutesDeps): express.Router {
  const { session, tokenGuards } = deps;
  const actionGuard: Handler = (req, res, next) => runChain(session?.carriesSession(req) ? session.actionSession : tokenGuards, req, res, next);
  const actionLimiter = limitActions(deps.actionLimit ?? DEFAULT_ACTION_LIMIT);
  const actions = express.Router();
  for (const action of ACTION_NAMES) actions.post(`/environments/:id/${action}`, actionGuard, actionLimiter, queueAction(deps, action));
  return actions;
}
