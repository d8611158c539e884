import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { findDeployment, readLogTail } from '@ephemera/db';
import { problem } from '../problem.js';
import { actionsFor } from './dashboard-actions.js';
import type { DashboardContext } from './dashboard-context.js';
import { filtersOf, listPage, listQuery } from './environment-list.js';
import { liveEvents } from './live-events.js';
import { LIVE_IDS, deploymentRows, deploymentSummary, environmentActions, environmentRows, environmentSummary, type DeploymentView } from './pages.js';
import { viewerOf } from './viewer-guard.js';
import { environmentFor } from './viewer.js';
import { deploymentsOf, visibleDeployment, visibleEnvironment } from './visible-records.js';

/** `/events`: the rows of the list's page. */
function environmentsEvents(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return problem(res, 400, 'Bad Request', 'the filters could not be read');
    const filters = filtersOf(q.data);
    return liveEvents(ctx, req, res, async (viewer) => {
      const page = await listPage(ctx, viewer, filters, q.data.cursor);
      return page ? { [LIVE_IDS.rows]: environmentRows(page.environments, ctx.links, Date.now()).text } : null;
    });
  };
}

/** `/environments/:id/events`: the environment's summary, actions and deployments. */
function environmentEvents(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const environment = await visibleEnvironment(ctx, req, res, viewerOf(res));
    if (!environment) return;
    return liveEvents(ctx, req, res, async (viewer) => {
      const e = await environmentFor(ctx, viewer, environment.id);
      if (!e) return 'gone';
      const now = Date.now();
      return {
        [LIVE_IDS.summary]: environmentSummary(e, ctx.links, now).text,
        [LIVE_IDS.actions]: environmentActions(e, (await actionsFor(ctx, viewer, e)).allowed, viewer.session.csrf).text,
        [LIVE_IDS.deployments]: deploymentRows(e.id, e.repository_full_name, await deploymentsOf(ctx, e.id), ctx.links, now).text,
      };
    });
  };
}

/** `/environments/:id/deployments/:deploymentId/events?from=`: the deployment's summary, and its logs from `from` on. */
function deploymentEvents(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const found = await visibleDeployment(ctx, req, res, viewerOf(res));
    if (!found) return;
    const parsed = z.coerce.number().int().min(0).safeParse(req.query.from ?? 0);
    let from = parsed.success ? parsed.data : 0;
    const { environment, deployment } = found;
    return liveEvents(ctx, req, res, async (viewer, write) => {
      // Access is checked on every poll, with the session's answer from GitHub refreshed on the environment
      // stream's schedule, before any log line is read.
      if (!(await environmentFor(ctx, viewer, environment.id))) return 'gone';
      const tail = await readLogTail(ctx.db, deployment.id, from);
      if (!tail) return 'gone';
      if (tail.text.length > 0 || tail.restarted) write('log', { text: tail.text, restarted: tail.restarted });
      from = tail.length;
      const row = await findDeployment(ctx.db, environment.id, deployment.id);
      return row ? { [LIVE_IDS.deployment]: deploymentSummary(JSON.parse(row.json) as DeploymentView, environment.repository_full_name, ctx.links, Date.now()).text } : 'gone';
    });
  };
}

/** The pages' live views (Server-Sent Events), each behind `requireViewer`. */
export function liveRoutes(ctx: DashboardContext, router: Router, requireViewer: RequestHandler): void {
  router.get('/events', requireViewer, environmentsEvents(ctx));
  router.get('/environments/:id/events', requireViewer, environmentEvents(ctx));
  router.get('/environments/:id/deployments/:deploymentId/events', requireViewer, deploymentEvents(ctx));
}
