import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { sameToken } from '../access.js';
import { signedCookie, type DashboardContext } from './dashboard-context.js';
import type { Session } from './session-store.js';

/** The `_csrf` field of a parsed form, if any. */
const formToken = (req: Request): unknown => (req.body as { _csrf?: unknown } | undefined)?._csrf;

/**
 * The sign-in form's token: the browser's own (its sign-in cookie), or a new one set in that cookie. The form carries
 * it back and must match the cookie (double submit), so another site cannot sign a browser in to an account of its
 * choosing.
 */
export function loginCsrfToken(ctx: DashboardContext, req: Request, res: Response): string {
  let csrf = signedCookie(req, ctx.names.loginCsrf);
  if (csrf === undefined) {
    csrf = randomBytes(24).toString('base64url');
    res.cookie(ctx.names.loginCsrf, csrf, ctx.cookieOptions(3600_000));
  }
  return csrf;
}

/** Whether the sign-in form carries the token of the browser's sign-in cookie. */
export function loginCsrfMatches(ctx: DashboardContext, req: Request): boolean {
  return sameToken(formToken(req), signedCookie(req, ctx.names.loginCsrf));
}

/** Whether a form of the session's pages (field `_csrf`) carries the session's synchronizer token. */
export function formCsrfMatches(req: Request, session: Session): boolean {
  return sameToken(formToken(req), session.csrf);
}

/** Whether a request of the session carries its token, in the form field `_csrf` or the header `X-CSRF-Token`. */
export function requestCsrfMatches(req: Request, session: Session): boolean {
  return sameToken(formToken(req) ?? req.get('x-csrf-token'), session.csrf);
}
