import { z } from 'zod';
import { listEnvironments } from '@ephemera/db';
import { ACTIVE_ENVIRONMENT_STATUSES, ENVIRONMENT_STATUSES } from '@ephemera/schema';
import { environmentCursors } from '../cursor.js';
import type { DashboardContext } from './dashboard-context.js';
import type { EnvironmentView, ListFilters } from './pages.js';
import type { Viewer } from './viewer.js';

/** Environments and deployments a page lists at most. */
export const PAGE_SIZE = 50;

/** The list's query: its filters and the page's cursor. */
export const listQuery = z.object({
  repository: z
    .string()
    .trim()
    .regex(/^([^/\s]+\/[^/\s]+)?$/)
    .optional()
    .transform((v) => v || undefined),
  status: z
    .union([z.enum(ENVIRONMENT_STATUSES), z.literal('')])
    .optional()
    .transform((v) => v || undefined),
  show: z.enum(['active', 'all']).default('active'),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

export const filtersOf = (q: ListQuery): ListFilters => ({ repository: q.repository, status: q.status, show: q.show });

/** The list's query string for these filters and cursor ('' for the defaults), with its `?`. */
export function queryString(filters: ListFilters, cursor?: string): string {
  const p = new URLSearchParams();
  if (filters.repository) p.set('repository', filters.repository);
  if (filters.status) p.set('status', filters.status);
  if (filters.show !== 'active') p.set('show', filters.show);
  if (cursor) p.set('cursor', cursor);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A page of the environments the viewer may see, with the next page's cursor; null for a cursor not made here. */
export async function listPage(ctx: DashboardContext, viewer: Viewer, filters: ListFilters, cursor: string | undefined) {
  const after = cursor ? environmentCursors.decode(cursor) : undefined;
  if (after === null) return null;
  const statuses = filters.status ? [filters.status] : filters.show === 'active' ? [...ACTIVE_ENVIRONMENT_STATUSES].filter((s) => s !== 'DESTROYED') : undefined;
  const page = await listEnvironments(ctx.db, {
    ...(filters.repository ? { repositoryFullName: filters.repository } : {}),
    ...(statuses ? { statuses } : {}),
    ...(viewer.repositories ? { repositories: viewer.repositories } : {}),
    ...(after ? { after } : {}),
    limit: PAGE_SIZE,
  });
  return { environments: JSON.parse(page.body) as EnvironmentView[], next: page.next ? environmentCursors.encode(page.next.createdAt, page.next.id) : null };
}
