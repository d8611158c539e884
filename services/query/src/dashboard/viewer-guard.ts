import type { NextFunction, Request, Response } from 'express';
import { sendPage, type DashboardContext } from './dashboard-context.js';
import { unavailablePage } from './message-pages.js';
import { STALE_ACCESS_LIMIT_MS } from './refresh-access.js';
import { readViewer, type Viewer } from './viewer.js';

export const STALE_MINUTES = STALE_ACCESS_LIMIT_MS / 60_000;

/** The viewer a page's guard let through. */
export const viewerOf = (res: Response) => res.locals.viewer as Viewer;

/**
 * Pages need a session: without one, the browser goes to the sign-in page. A GitHub user whose answer from GitHub
 * is too old to go by gets the "GitHub is unavailable" page, except where `allowUnavailable` (signing out).
 */
export function viewerGuard(ctx: DashboardContext, allowUnavailable = false) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const viewer = await readViewer(ctx, req);
    if (!viewer) return res.redirect(303, '/sign-in');
    if (viewer.unavailable && !allowUnavailable) {
      res.set('Retry-After', '60');
      return sendPage(res, 503, 'GitHub is unavailable', unavailablePage(STALE_MINUTES), { viewer: viewer.page });
    }
    res.locals.viewer = viewer;
    return next();
  };
}
