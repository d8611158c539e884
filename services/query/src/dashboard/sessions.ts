import type { Request, Response, Router } from 'express';
import { formCsrfMatches } from './csrf.js';
import { sendPage, type DashboardContext } from './dashboard-context.js';
import { messagePage, signOutPage } from './message-pages.js';
import type { Session } from './session-store.js';
import { viewerGuard, viewerOf } from './viewer-guard.js';

/** Starts a session after a sign-in: its cookie set, the sign-in form's cookie cleared, the browser sent to `/`. */
export async function startSession(ctx: DashboardContext, res: Response, data: Omit<Session, 'id' | 'csrf' | 'expiresAt'>): Promise<void> {
  // A new id at every sign-in, so an id planted before it is worth nothing after.
  const session = await ctx.sessions.create({ ...data, expiresAt: Date.now() + ctx.sessionMs });
  res.cookie(ctx.names.session, session.id, ctx.cookieOptions(ctx.sessionMs));
  res.clearCookie(ctx.names.loginCsrf, ctx.clearOptions);
  res.redirect(303, '/');
}

/** Revokes a GitHub user token the dashboard no longer keeps; GitHub failing to is logged, never in the way. */
export async function revokeToken(ctx: DashboardContext, token: string | undefined, login: string): Promise<void> {
  if (!ctx.deps.github || token === undefined) return;
  try {
    await ctx.deps.github.revoke(token);
  } catch (err) {
    ctx.logger.warn({ err: { message: (err as Error).message }, login }, 'could not revoke a GitHub token');
  }
}

/** `GET /auth/sign-out` (the form) and `POST /auth/sign-out`; signing out works while GitHub is unavailable too. */
export function signOutRoutes(ctx: DashboardContext, router: Router): void {
  const signOutGuard = viewerGuard(ctx, true);
  router.get('/auth/sign-out', signOutGuard, (_req, res) => sendPage(res, 200, 'Sign out', signOutPage(viewerOf(res).session.csrf), { viewer: viewerOf(res).page }));
  router.post('/auth/sign-out', ctx.form, signOutGuard, async (req, res) => {
    const { session } = viewerOf(res);
    if (!formCsrfMatches(req, session)) return sendPage(res, 403, 'Forbidden', messagePage('Forbidden', 'The form had expired: reload the page.'));
    await ctx.sessions.destroy(session.id);
    res.clearCookie(ctx.names.session, ctx.clearOptions);
    // The session is gone whatever GitHub says; then its token is revoked, so nothing it held still works.
    await revokeToken(ctx, session.githubToken, session.login);
    return res.redirect(303, '/sign-in');
  });
}

/** Whether a request to the API stands for a session rather than a token: a session cookie and no Authorization. */
export function sessionCarrier(ctx: DashboardContext): (req: Request) => boolean {
  const sessionCookie = new RegExp(`(?:^|;\\s*)${ctx.names.session}=`);
  return (req) => req.get('authorization') === undefined && sessionCookie.test(req.headers.cookie ?? '');
}
