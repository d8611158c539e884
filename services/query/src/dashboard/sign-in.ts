import type { Request, Response, Router } from 'express';
import { DEFAULT_SIGN_IN_ADDRESS_LIMIT, formCredentials, limitFailedLogins } from '../login-limits.js';
import { loginCsrfMatches, loginCsrfToken } from './csrf.js';
import { sendPage, setupOffered, type DashboardContext } from './dashboard-context.js';
import { signInPage } from './message-pages.js';
import { startSession } from './sessions.js';

/** Seconds as a person reads a wait: seconds up to two minutes, then minutes. */
const waitText = (seconds: number) => (seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`);

/** The sign-in page (GitHub's button, the operator's form), with the status and error given. */
export function showSignIn(ctx: DashboardContext, req: Request, res: Response, status = 200, error?: string) {
  const csrf = loginCsrfToken(ctx, req, res);
  return sendPage(res, status, 'Sign in', signInPage({ csrf, operator: ctx.deps.operator !== undefined, github: ctx.deps.github !== undefined, error, setup: setupOffered(ctx, req) }));
}

/**
 * `POST /auth/sign-in`, the operator's form: its CSRF token checked first, then failures limited loosely per address
 * and strictly per username (the back-off, shared by the replicas), then the credentials. Not served without them.
 */
export function operatorSignInRoutes(ctx: DashboardContext, router: Router): void {
  const operator = ctx.deps.operator;
  if (!operator) return;
  const check = formCredentials(operator.username, operator.password);
  const backOff = ctx.deps.operatorBackOff;
  // Loosely per address (the back-off per username below is what makes guessing slow).
  const addressLimit = limitFailedLogins(
    check,
    ctx.deps.loginLimit ?? DEFAULT_SIGN_IN_ADDRESS_LIMIT,
    (req) => (req.body as { username?: unknown } | undefined)?.username !== undefined,
    (req, res, seconds) => showSignIn(ctx, req, res, 429, `Too many failed sign-ins from this address: try again in ${waitText(seconds)}.`),
  );
  const operatorLogin = operator.username;
  router.post(
    '/auth/sign-in',
    ctx.form,
    (req, res, next) => {
      if (!loginCsrfMatches(ctx, req)) return showSignIn(ctx, req, res, 403, 'The sign-in form had expired: please sign in again.');
      return next();
    },
    addressLimit,
    async (req, res) => {
      const { username } = req.body as { username?: unknown };
      const name = typeof username === 'string' ? username : '';
      const waitMs = await backOff.claim(name);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        res.set('Retry-After', String(seconds));
        return showSignIn(ctx, req, res, 429, `Too many failed sign-ins as ${name}: try again in ${waitText(seconds)}.`);
      }
      if (!check(req)) return showSignIn(ctx, req, res, 401, 'Wrong username or password.');
      await backOff.succeeded(name);
      ctx.logger.info({ login: operatorLogin }, 'operator signed in to the dashboard');
      return startSession(ctx, res, { kind: 'operator', login: operatorLogin });
    },
  );
}
