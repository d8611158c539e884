/**
 * The fake API server's HTTP front: reads each request, answers discovery, records API requests, applies the
 * test's scripted failures and the authorizer (as the API server's filters do, before the handler), then hands the
 * request to its resource's handling and writes the answer or the Status error.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedKubeRequest } from '../fake-kubernetes.js';
import { authorizeRequest, isForbidden, rbacRefusal, userInfo } from './authorizer.js';
import { requestAttributes } from './rbac.js';
import { parseRoute, type Route } from './requests.js';
import { discoveryDocument, isDiscoveryPath } from './resources.js';
import { serveResource } from './resource-routes.js';
import type { ServerState } from './server-state.js';
import { KubeError, methodNotAllowed, notFoundPath, scriptedFailure, unauthorized } from './status.js';
import type { WriteContext } from './write-admission.js';

/** How the server answers: a body (JSON, or text for strings) or a Status error, each with an audit id. */
function responder(res: http.ServerResponse) {
  const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      'cache-control': 'no-cache, private',
      'audit-id': randomUUID(),
      ...headers,
    });
    res.end(text);
  };
  const sendError = (err: unknown) => {
    const e = err instanceof KubeError ? err : new KubeError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`, { causes: [{ message: String((err as Error)?.message ?? err) }] });
    send(e.code, e.toStatus(), e.headers);
  };
  return { send, sendError };
}

/** The request as requests[] records it (its status filled in when the response is finished). */
function recorded(req: http.IncomingMessage, route: Route | undefined, url: URL): RecordedKubeRequest | undefined {
  if (!route?.verb) return undefined;
  const contentType = req.headers['content-type'] ?? '';
  const fieldManager = url.searchParams.get('fieldManager');
  return {
    verb: route.verb,
    group: route.group,
    resource: route.sub ? `${route.resource}/${route.sub}` : route.resource,
    ...(route.namespace ? { namespace: route.namespace } : {}),
    ...(route.name ? { name: route.name } : {}),
    status: 0,
    ...(contentType ? { contentType } : {}),
    ...(fieldManager ? { fieldManager } : {}),
    method: req.method ?? 'GET',
    url: req.url ?? '/',
  };
}

/** failNext()'s scripted failures, then the authorizer: what refuses the request before its handler runs. */
function refuse(state: ServerState, entry: RecordedKubeRequest, route: Route, query: URLSearchParams): void {
  const failure = state.failures.find(
    (f) =>
      f.count > 0 &&
      (f.match.verb === undefined || f.match.verb === entry.verb) &&
      (f.match.resource === undefined || f.match.resource === entry.resource || f.match.resource === route.resource) &&
      (f.match.namespace === undefined || f.match.namespace === entry.namespace) &&
      (f.match.name === undefined || f.match.name === entry.name) &&
      (f.match.group === undefined || f.match.group === entry.group),
  );
  if (failure) {
    failure.count--;
    throw scriptedFailure(failure.status);
  }
  if (state.rbacMode) {
    const attrs = requestAttributes(route, query.get('fieldSelector'));
    const decision = authorizeRequest(state, attrs);
    if (!decision.allowed) throw rbacRefusal(state, { ...route, name: attrs.name }, entry.verb, decision.reason);
  } else if (route.def && isForbidden(state, entry.verb, route.group, entry.resource)) throw rbacRefusal(state, route, entry.verb);
}

/** One whole request, its body read. */
function dispatch(state: ServerState, server: http.Server, req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
  const url = new URL(req.url ?? '/', 'http://fake');
  const pathname = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const { send, sendError } = responder(res);
  const authorized = req.headers.authorization === `Bearer ${state.token}`;
  if (isDiscoveryPath(pathname)) {
    state.discoveryRequests++;
    if (!authorized) return sendError(unauthorized());
    if (method !== 'GET') return sendError(methodNotAllowed());
    const doc = discoveryDocument(pathname, (server.address() as AddressInfo).port, state.served);
    return doc ? send(200, doc) : sendError(notFoundPath());
  }
  const route = parseRoute(pathname, method, url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1', state.served);
  const entry = recorded(req, route, url);
  if (entry) state.requests.push(entry);
  res.on('finish', () => {
    if (entry) entry.status = res.statusCode;
  });
  if (!authorized) return sendError(unauthorized());
  if (!route) return sendError(notFoundPath());
  const ctx: WriteContext = { manager: 'unknown', dryRun: false, warnings: [], request: { user: userInfo(state), namespace: route.namespace, name: route.name } };
  try {
    if (entry) refuse(state, entry, route, url.searchParams);
    const apiRequest = { route, query: url.searchParams, raw, contentType: req.headers['content-type'] ?? '', userAgent: req.headers['user-agent'] ?? '', res };
    const answer = serveResource(state, apiRequest, ctx);
    if (!answer && entry) entry.status = res.statusCode;
    if (answer) {
      const warnings = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
      send(answer[0], answer[1], warnings ? { warning: warnings } : {});
    }
  } catch (err) {
    sendError(err);
  }
}

/** The fake API server's HTTP server (not yet listening). */
export function createApiServer(state: ServerState): http.Server {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => dispatch(state, server, req, res, Buffer.concat(chunks).toString('utf8')));
  });
  return server;
}
