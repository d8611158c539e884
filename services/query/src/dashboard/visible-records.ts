import type { Request, Response } from 'express';
import { z } from 'zod';
import { findDeployment, listDeployments } from '@ephemera/db';
import { PG_INTEGER_MAX } from '../api-schemas.js';
import { sendPage, type DashboardContext } from './dashboard-context.js';
import { PAGE_SIZE } from './environment-list.js';
import { messagePage } from './message-pages.js';
import type { DeploymentView, EnvironmentView } from './pages.js';
import { environmentFor, type Viewer } from './viewer.js';

export const idParam = z.coerce.number().int().positive().max(PG_INTEGER_MAX);

/** The environment of the `:id` path parameter if it exists and the viewer may see it; otherwise answers 404 (the same for both). */
export async function visibleEnvironment(ctx: DashboardContext, req: Request, res: Response, viewer: Viewer): Promise<EnvironmentView | null> {
  const id = idParam.safeParse(req.params.id);
  const environment = id.success ? await environmentFor(ctx, viewer, id.data) : null;
  if (environment) return environment;
  sendPage(res, 404, 'Not found', messagePage('Not found', 'There is no such environment, or you cannot see it.'), { viewer: viewer.page });
  return null;
}

/** The environment's latest deployments, without their logs. */
export async function deploymentsOf(ctx: DashboardContext, id: number): Promise<DeploymentView[]> {
  return (await listDeployments(ctx.db, id, { limit: PAGE_SIZE, includeLogs: false })).map((r) => JSON.parse(r.json) as DeploymentView);
}

/** The `:deploymentId` of a visible environment, with the environment; otherwise answers 404. */
export async function visibleDeployment(ctx: DashboardContext, req: Request, res: Response, viewer: Viewer) {
  const environment = await visibleEnvironment(ctx, req, res, viewer);
  if (!environment) return null;
  const id = idParam.safeParse(req.params.deploymentId);
  const row = id.success ? await findDeployment(ctx.db, environment.id, id.data) : null;
  if (row) return { environment, deployment: JSON.parse(row.json) as DeploymentView };
  sendPage(res, 404, 'Not found', messagePage('Not found', 'This environment has no such deployment.'), { viewer: viewer.page });
  return null;
}
