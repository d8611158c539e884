import express from 'express';
import { sessionActionGuard } from './dashboard-actions.js';
import { STATIC_DIR, createDashboardContext, type DashboardDeps } from './dashboard-context.js';
import { githubSignInRoutes } from './github-sign-in-routes.js';
import { liveRoutes } from './live-routes.js';
import { pageRoutes } from './page-routes.js';
import { securityHeaders } from './security-headers.js';
import { sessionCarrier, signOutRoutes } from './sessions.js';
import { operatorSignInRoutes, showSignIn } from './sign-in.js';
import { viewerGuard } from './viewer-guard.js';

export type { DashboardDeps } from './dashboard-context.js';

/**
 * The environments dashboard: sign-in (GitHub, and the operator's form), sessions, the pages and their live
 * updates. `router` serves it at `/`; `actionSession` lets the API's redeploy and destroy accept a signed-in session
 * (with its CSRF token) besides write tokens, asking GitHub afresh whether a GitHub user may act.
 *
 * @example const dashboard = createDashboard(deps); app.use(dashboard.router); // after the service's other routes
 */
export function createDashboard(deps: DashboardDeps) {
  const ctx = createDashboardContext(deps);
  const router = express.Router();
  router.use('/static', express.static(STATIC_DIR, { index: false, maxAge: '1h' }));
  // Mounted after every other route of the service, so these reach only the dashboard's requests.
  router.use(securityHeaders(), ctx.cookies);

  router.get('/sign-in', (req, res) => showSignIn(ctx, req, res));
  operatorSignInRoutes(ctx, router);
  githubSignInRoutes(ctx, router);
  signOutRoutes(ctx, router);
  const requireViewer = viewerGuard(ctx);
  pageRoutes(ctx, router, requireViewer);
  liveRoutes(ctx, router, requireViewer);

  return {
    router,
    actionSession: [ctx.cookies, ctx.form, sessionActionGuard(ctx)] as const,
    /** Whether a request to the API stands for a session rather than a token: a session cookie and no Authorization. */
    carriesSession: sessionCarrier(ctx),
  };
}
