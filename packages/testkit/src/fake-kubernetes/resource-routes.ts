/**
 * One API (non-discovery) request on a resource: the route checked against what the kind serves, then each verb's
 * handling: reviews, pod logs, watch, list, get, create, update, patch, delete and deletecollection.
 */
import type http from 'node:http';
import { DEF } from './cluster-host.js';
import { listObjects } from './list-objects.js';
import { clone, isObject, type Obj } from './merge.js';
import { deleteNamespace, finalizeNamespace } from './namespace-lifecycle.js';
import { createObject, deleteOne, updateObject } from './object-writes.js';
import { patchObject } from './patch-object.js';
import { podLog } from './pod-log.js';
import { checkIdentity, parseBody, type Route } from './requests.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { accessReview, selfReview, SSAR, SSR } from './review-routes.js';
import type { ServerState } from './server-state.js';
import { conflict, methodNotAllowed, notFound, notFoundPath } from './status.js';
import { admit, requireNamespace, type WriteContext } from './write-admission.js';

export interface ApiRequest {
  route: Route;
  query: URLSearchParams;
  /** The body as sent. */
  raw: string;
  contentType: string;
  userAgent: string;
  res: http.ServerResponse;
}

/** The kind and verb the route names, if the kind serves that verb there; else the API server's 404 or 405. */
function checkRoute(route: Route): { d: ResourceDef; verb: NonNullable<Route['verb']> } {
  const d = route.def;
  if (!d) throw notFoundPath();
  if (route.inNamespacePath && !d.namespaced) throw notFoundPath();
  if (d.namespaced && !route.inNamespacePath && route.name) throw notFoundPath();
  const verb = route.verb;
  if (!verb) throw methodNotAllowed();
  if (route.sub) {
    const subVerbs = d.subresources[route.sub];
    if (!subVerbs || !route.name) throw notFoundPath();
    if (!subVerbs.includes(verb)) throw methodNotAllowed();
  } else if (!d.verbs.includes(verb) || (verb === 'create' && route.name) || ((verb === 'update' || verb === 'patch') && !route.name)) throw methodNotAllowed();
  if (d.namespaced && !route.namespace && !['list', 'watch'].includes(verb)) throw methodNotAllowed();
  return { d, verb };
}

/** Handles one API request; answers [status, body], or undefined when it wrote the response itself (watch). */
export function serveResource(state: ServerState, req: ApiRequest, ctx: WriteContext): [number, unknown] | undefined {
  const { route, query } = req;
  const { d, verb } = checkRoute(route);
  ctx.manager = query.get('fieldManager') ?? (req.userAgent.split('/')[0] || 'unknown');
  ctx.dryRun = query.get('dryRun') === 'All';
  if (d === SSAR) return [201, accessReview(state, parseBody(req.raw, req.contentType))];
  if (d === SSR) return [201, selfReview(state, parseBody(req.raw, req.contentType))];
  if (route.sub === 'log') return [200, podLog(state, route, query)];
  if (verb === 'watch') {
    state.watches.open(d, route, query, req.res, { list: (def, ns) => state.store.all(def, ns), schedule: (ms, fn) => state.timers.schedule(ms, fn) });
    return undefined;
  }
  if (verb === 'list') return [200, listObjects(state, d, route.namespace, query)];
  if (verb === 'create') {
    const obj = parseBody(req.raw, req.contentType);
    checkIdentity(d, obj, route);
    requireNamespace(state, d, route.namespace, obj.metadata.name ?? '');
    return [201, createObject(state, d, obj, ctx)];
  }
  if (verb === 'deletecollection') return [200, deleteCollection(state, d, req, ctx)];
  const existing = state.store.get(d, route.namespace, route.name!);
  if (verb === 'patch') return patchObject(state, d, req, ctx, existing);
  if (!existing) throw notFound(d, route.name!);
  if (verb === 'get') return [200, clone(existing)];
  if (verb === 'delete') return [200, deleteObject(state, d, req, ctx, existing)];
  return [200, replaceObject(state, d, req, ctx, existing)];
}

function deleteCollection(state: ServerState, d: ResourceDef, req: ApiRequest, ctx: WriteContext): Obj {
  const deleted = listObjects(state, d, req.route.namespace, req.query).items as Obj[];
  for (const o of deleted) {
    admit(state, d, 'DELETE', undefined, o, ctx);
    if (!ctx.dryRun) deleteOne(state, d, o);
  }
  return { kind: `${d.kind}List`, apiVersion: apiVersionOf(d), metadata: { resourceVersion: String(state.store.resourceVersion) }, items: deleted };
}

/** DELETE with its preconditions; a namespace only starts terminating. */
function deleteObject(state: ServerState, d: ResourceDef, req: ApiRequest, ctx: WriteContext, existing: Obj): Obj {
  const name = req.route.name!;
  const options = req.raw.trim() ? parseBody(req.raw, 'application/json') : {};
  const pre = isObject(options.preconditions) ? options.preconditions : {};
  if (pre.uid && pre.uid !== existing.metadata.uid) throw conflict(d, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`);
  if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
    throw conflict(d, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`);
  }
  if (d === DEF.namespace) return deleteNamespace(state, existing, ctx);
  admit(state, d, 'DELETE', undefined, existing, ctx);
  const gone = ctx.dryRun ? clone(existing) : deleteOne(state, d, existing);
  if (d.returnsDeleted) return gone;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: d.group || undefined, kind: d.resource, uid: existing.metadata.uid } };
}

/** PUT: the whole object (or its status, or a namespace's finalizers), at the resourceVersion the client read. */
function replaceObject(state: ServerState, d: ResourceDef, req: ApiRequest, ctx: WriteContext, existing: Obj): Obj {
  const { route } = req;
  const obj = parseBody(req.raw, req.contentType);
  checkIdentity(d, obj, route);
  const rv = obj.metadata.resourceVersion;
  if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(d, route.name!);
  if (route.sub === 'finalize') return finalizeNamespace(state, existing, obj, ctx);
  return updateObject(state, d, existing, obj, ctx, route.sub ? { sub: route.sub } : {});
}
