import type { TLSSocket } from 'node:tls';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { environmentExists, findEnvironment, listDeployments, listEnvironments, type Queryable } from '@ephemera/db';
import { ACTIVE_ENVIRONMENT_STATUSES } from '@ephemera/schema';
import { AUTHORITY } from './access.js';
import { environmentIdParams, listDeploymentsQuery, listEnvironmentsQuery, namespaceParams } from './api-schemas.js';
import { deploymentCursors, environmentCursors } from './cursor.js';
import { problem } from './problem.js';

/** Parses with the schema; on failure answers 400 naming the offending parameter and returns undefined. */
export function parse<T extends z.ZodType>(schema: T, value: unknown, res: Response): z.infer<T> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const parameter = String(issue.path[0] ?? 'query');
  problem(res, 400, 'Bad Request', `${parameter}: ${issue.message}`, { parameter });
  return undefined;
}

/**
 * Sends JSON that PostgreSQL already serialised. As one Buffer: a page joined from row strings is a rope that
 * Node would otherwise flatten and encode inside the socket write, at a large share of the CPU a page costs.
 */
function sendJsonText(res: Response, json: string): void {
  const body = Buffer.from(json, 'utf8');
  // Written directly: express's send() would check request freshness and content types for a body that has
  // neither an ETag nor a choice of type (Node itself leaves the body out of a HEAD answer).
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/**
 * The URL of the next page: the request's own query with the new cursor. Built from strings rather than with
 * `new URL` and `req.protocol`, which cost a tenth of a list request's CPU (the trust-proxy check parses the
 * peer's address on every call); `req.protocol` is only consulted when a proxy forwarded the request. A Host
 * header that is not a plain authority gives a relative link, which RFC 8288 resolves against the request.
 */
function nextLink(req: Request, cursor: string): string {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  params.set('cursor', cursor);
  const target = `${q === -1 ? url : url.slice(0, q)}?${params.toString()}`;
  const host = req.headers.host;
  if (host === undefined || !AUTHORITY.test(host)) return `<${target}>; rel="next"`;
  const protocol = req.headers['x-forwarded-proto'] === undefined ? ((req.socket as TLSSocket).encrypted ? 'https' : 'http') : req.protocol;
  return `<${protocol}://${host}${target}>; rel="next"`;
}

const notACursor = (res: Response) => problem(res, 400, 'Bad Request', 'cursor: not a cursor this API issued', { parameter: 'cursor' });

/** `GET /environments`: filtered, newest first, a page at a time (Link: rel="next"). */
function listEnvironmentsRoute(db: Queryable): RequestHandler {
  return async (req, res) => {
    const q = parse(listEnvironmentsQuery, req.query, res);
    if (!q) return;
    const after = q.cursor ? environmentCursors.decode(q.cursor) : undefined;
    if (after === null) return notACursor(res);
    let statuses = q.status === undefined ? undefined : Array.isArray(q.status) ? q.status : [q.status];
    if (q.active_only) statuses = (statuses ?? [...ACTIVE_ENVIRONMENT_STATUSES]).filter((s) => s !== 'DESTROYED');
    if (statuses?.length === 0) return res.json([]);
    const page = await listEnvironments(db, {
      ...(q.repository ? { repositoryFullName: q.repository } : {}),
      ...(statuses ? { statuses } : {}),
      ...(q.pr_number !== undefined ? { prNumber: q.pr_number } : {}),
      ...(after ? { after } : {}),
      limit: q.limit,
    });
    if (page.next) res.set('Link', nextLink(req, environmentCursors.encode(page.next.createdAt, page.next.id)));
    return sendJsonText(res, page.body);
  };
}

/** `GET /environments/:id/deployments`: newest first, a page at a time, logs on request. */
function listDeploymentsRoute(db: Queryable): RequestHandler {
  return async (req, res) => {
    const p = parse(environmentIdParams, req.params, res);
    if (!p) return;
    const q = parse(listDeploymentsQuery, req.query, res);
    if (!q) return;
    const afterId = q.cursor ? deploymentCursors.decode(q.cursor) : undefined;
    if (afterId === null) return notACursor(res);
    if (!(await environmentExists(db, p.id))) return problem(res, 404, 'Not Found', `no environment ${p.id}`);
    const rows = await listDeployments(db, p.id, {
      ...(afterId !== undefined ? { afterId } : {}),
      limit: q.limit + 1,
      includeLogs: q.include_logs ?? false,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    if (rows.length > q.limit && last) res.set('Link', nextLink(req, deploymentCursors.encode(last.id)));
    return sendJsonText(res, `[${page.map((r) => r.json).join(',')}]`);
  };
}

/** The API's reads (mounted at /api/v1), each behind `readGuard`. */
export function createApiRoutes(db: Queryable, readGuard: RequestHandler): express.Router {
  const api = express.Router();
  api.use(readGuard);
  api.get('/environments', listEnvironmentsRoute(db));
  api.get('/environments/namespace/:namespace', async (req, res) => {
    const p = parse(namespaceParams, req.params, res);
    if (!p) return;
    const env = await findEnvironment(db, { namespace: p.namespace });
    if (!env) return problem(res, 404, 'Not Found', `no environment with namespace ${p.namespace}`);
    return sendJsonText(res, env.json);
  });
  api.get('/environments/:id', async (req, res) => {
    const p = parse(environmentIdParams, req.params, res);
    if (!p) return;
    const env = await findEnvironment(db, { id: p.id });
    if (!env) return problem(res, 404, 'Not Found', `no environment ${p.id}`);
    return sendJsonText(res, env.json);
  });
  api.get('/environments/:id/deployments', listDeploymentsRoute(db));
  return api;
}
