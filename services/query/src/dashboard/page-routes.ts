import type { RequestHandler, Router } from 'express';
import { readLogTail } from '@ephemera/db';
import type { EnvironmentAction } from '@ephemera/schema';
import { ACTION_NAMES } from '../api-schemas.js';
import { actionsFor } from './dashboard-actions.js';
import { sendPage, setupOffered, type DashboardContext } from './dashboard-context.js';
import { filtersOf, listPage, listQuery, queryString } from './environment-list.js';
import { messagePage } from './message-pages.js';
import { deploymentPage, environmentPage, environmentsPage } from './pages.js';
import { viewerOf } from './viewer-guard.js';
import { deploymentsOf, visibleDeployment, visibleEnvironment } from './visible-records.js';

const notices: Record<string, string> = { redeploy: 'Redeploy queued: a new deployment starts shortly.', destroy: 'Destroy queued: the preview is being torn down.' };
const isAction = (name: unknown): name is EnvironmentAction => typeof name === 'string' && (ACTION_NAMES as readonly string[]).includes(name);

/** `/`: the environments the viewer may see, filtered, a page at a time. */
function environmentsRoute(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const viewer = viewerOf(res);
    const q = listQuery.safeParse(req.query);
    if (!q.success) return sendPage(res, 400, 'Bad request', messagePage('Bad request', 'The filters could not be read.'), { viewer: viewer.page });
    const filters = filtersOf(q.data);
    const page = await listPage(ctx, viewer, filters, q.data.cursor);
    if (!page) return sendPage(res, 400, 'Bad request', messagePage('Bad request', 'That page link is not one this dashboard made.'), { viewer: viewer.page });
    const body = environmentsPage({ environments: page.environments, filters, nextHref: page.next ? `/${queryString(filters, page.next)}` : null, links: ctx.links, now: Date.now(), setup: setupOffered(ctx, req) });
    return sendPage(res, 200, 'Environments', body, { viewer: viewer.page, live: `/events${queryString(filters, q.data.cursor)}` });
  };
}

/** `/environments/:id`: the environment, its deployments and the actions the viewer may take on it now. */
function environmentRoute(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const viewer = viewerOf(res);
    const environment = await visibleEnvironment(ctx, req, res, viewer);
    if (!environment) return;
    const queued = isAction(req.query.queued) ? notices[req.query.queued] : undefined;
    const actions = await actionsFor(ctx, viewer, environment);
    // Sent back by the API when the action no longer applied; said only while that is still so.
    const refused = isAction(req.query.refused) ? actions.refusals[req.query.refused] : undefined;
    const body = environmentPage({
      environment,
      deployments: await deploymentsOf(ctx, environment.id),
      actions: actions.allowed,
      csrf: viewer.session.csrf,
      notice: queued,
      alert: refused ? `Not done: ${refused}.` : undefined,
      links: ctx.links,
      now: Date.now(),
    });
    return sendPage(res, 200, `${environment.repository_full_name} #${environment.pr_number}`, body, { viewer: viewer.page, live: `/environments/${environment.id}/events` });
  };
}

/** `/environments/:id/deployments/:deploymentId`: the deployment and its logs. */
function deploymentRoute(ctx: DashboardContext): RequestHandler {
  return async (req, res) => {
    const found = await visibleDeployment(ctx, req, res, viewerOf(res));
    if (!found) return;
    const body = deploymentPage({ ...found, links: ctx.links, now: Date.now() });
    // The live view follows the logs from where the page left them.
    const from = (await readLogTail(ctx.db, found.deployment.id, 0))?.length ?? 0;
    return sendPage(res, 200, `Deployment #${found.deployment.id}`, body, {
      viewer: viewerOf(res).page,
      live: `/environments/${found.environment.id}/deployments/${found.deployment.id}/events?from=${from}`,
    });
  };
}

/** The dashboard's pages, each behind `requireViewer`. */
export function pageRoutes(ctx: DashboardContext, router: Router, requireViewer: RequestHandler): void {
  router.get('/', requireViewer, environmentsRoute(ctx));
  router.get('/environments/:id', requireViewer, environmentRoute(ctx));
  router.get('/environments/:id/deployments/:deploymentId', requireViewer, deploymentRoute(ctx));
}
