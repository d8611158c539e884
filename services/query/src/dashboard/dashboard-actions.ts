import type { NextFunction, Request, Response } from 'express';
import { readActionTarget } from '@ephemera/db';
import type { EnvironmentAction } from '@ephemera/schema';
import { ACTION_NAMES } from '../api-schemas.js';
import { actionRefusal } from '../environment-actions.js';
import { problem } from '../problem.js';
import { requestCsrfMatches } from './csrf.js';
import type { DashboardContext } from './dashboard-context.js';
import { GithubSignInError } from './github-sign-in.js';
import type { EnvironmentView } from './pages.js';
import { STALE_MINUTES } from './viewer-guard.js';
import { environmentFor, readViewer, type Viewer } from './viewer.js';
import { idParam } from './visible-records.js';

export interface ActionsOffered {
  allowed: EnvironmentAction[];
  refusals: Partial<Record<EnvironmentAction, string>>;
}

/** The actions the viewer may take on the environment that apply to it now, decided as the API decides. */
export async function actionsFor(ctx: DashboardContext, viewer: Viewer, e: EnvironmentView): Promise<ActionsOffered> {
  if (!viewer.canAct(e)) return { allowed: [], refusals: {} };
  const target = await readActionTarget(ctx.db, e.id);
  const refusals: Partial<Record<EnvironmentAction, string>> = {};
  const allowed: EnvironmentAction[] = [];
  for (const action of ACTION_NAMES) {
    const refusal = target ? actionRefusal(action, e.id, target) : `no environment ${e.id}`;
    if (refusal) refusals[action] = refusal;
    else allowed.push(action);
  }
  return { allowed, refusals };
}

/**
 * Asks GitHub, now, whether the viewer (a GitHub user) may act on the environment's repository, and keeps the answer
 * in the session (so its pages offer what GitHub allows). Answers the request itself and returns false when GitHub
 * says no (403), cannot say (503: nothing is queued), or no longer accepts the token (401).
 */
async function githubAllows(ctx: DashboardContext, res: Response, viewer: Viewer, environment: EnvironmentView): Promise<boolean> {
  const { session } = viewer;
  const reachable = viewer.repositoryOf(environment);
  const repository = reachable?.fullName ?? environment.repository_full_name;
  const unanswered = () => {
    res.set('Retry-After', '10');
    problem(res, 503, 'Service Unavailable', `GitHub did not say whether ${session.login} may act on ${repository}; nothing was queued: try again shortly`);
    return false;
  };
  if (!ctx.deps.github || session.githubToken === undefined) return unanswered();
  let allowed: boolean;
  try {
    allowed = await ctx.deps.github.mayAct(session.githubToken, repository, session.login);
  } catch (err) {
    if (err instanceof GithubSignInError && err.status === 401) {
      await ctx.sessions.destroy(session.id);
      problem(res, 401, 'Unauthorized', 'the session has ended: GitHub no longer accepts its token; sign in again');
      return false;
    }
    ctx.logger.warn({ err: { message: (err as Error).message }, login: session.login, repository }, 'could not ask GitHub whether a person may act');
    return unanswered();
  }
  if (reachable && reachable.canAct !== allowed) {
    reachable.canAct = allowed;
    await ctx.sessions.save(session);
  }
  if (!allowed) problem(res, 403, 'Forbidden', `GitHub says ${session.login} may not act on ${repository}: that needs the admin, maintain or write permission`);
  return allowed;
}

/**
 * The API's actions for a signed-in session: the CSRF token (form field `_csrf` or header `X-CSRF-Token`) must be
 * the session's, and the person must be allowed to act on the environment's repository, which for a GitHub user
 * GitHub is asked afresh. The requester is left in `res.locals.requester`, and `res.locals.fromForm` says the
 * answer should send the browser back to the page.
 */
export function sessionActionGuard(ctx: DashboardContext) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const viewer = await readViewer(ctx, req);
    if (!viewer) return problem(res, 401, 'Unauthorized', 'the session has ended: sign in again');
    const { session } = viewer;
    if (!requestCsrfMatches(req, session)) return problem(res, 403, 'Forbidden', 'the request does not carry this session\'s CSRF token');
    if (viewer.unavailable) {
      res.set('Retry-After', '60');
      return problem(res, 503, 'Service Unavailable', `GitHub has not said for over ${STALE_MINUTES} minutes which repositories ${session.login} reaches; nothing was queued: try again shortly`);
    }
    const id = idParam.safeParse(req.params.id);
    const environment = id.success ? await environmentFor(ctx, viewer, id.data) : null;
    if (!environment) return problem(res, 404, 'Not Found', `no environment ${id.success ? id.data : req.params.id}`);
    if (session.kind === 'github') {
      if (!(await githubAllows(ctx, res, viewer, environment))) return;
    } else if (!viewer.canAct(environment)) {
      return problem(res, 403, 'Forbidden', `${session.login} may not act on ${environment.repository_full_name}`);
    }
    res.locals.requester = viewer.requester;
    res.locals.fromForm = Boolean(req.is('application/x-www-form-urlencoded'));
    return next();
  };
}
