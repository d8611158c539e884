/** Reading requests as the API server does: the URL into resource, namespace, name and RBAC verb; bodies into objects. */
import { parse as parseYaml } from 'yaml';
import type { KubeVerb } from '../fake-kubernetes.js';
import { isObject, stripNulls, type Obj } from './merge.js';
import { apiVersionOf, findResource, type ResourceDef } from './resources.js';
import { badRequest } from './status.js';

export interface Route {
  group: string;
  version: string;
  resource: string;
  sub?: string;
  namespace?: string;
  name?: string;
  verb?: KubeVerb;
  def?: ResourceDef;
  /** The namespace is in the path as /namespaces/{ns}/{resource}. */
  inNamespacePath: boolean;
}

/**
 * Splits `/api/v1/namespaces/x/pods/y/log` the way the API server's RequestInfo does, with the RBAC verb; `def` is
 * the resource among those `served`, if it is one.
 */
export function parseRoute(pathname: string, method: string, watch: boolean, served?: ResourceDef[]): Route | undefined {
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  const route: Route = { group, version, resource: '', inNamespacePath: false };
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    if (rest.length > 5) return undefined;
    Object.assign(route, { namespace: rest[1], resource: rest[2], name: rest[3], sub: rest[4], inNamespacePath: true });
  } else {
    if (rest.length > 3) return undefined;
    Object.assign(route, { resource: rest[0], name: rest[1], sub: rest[2] });
    // A namespace's own requests are authorized in that namespace, as RequestInfo sets it.
    if (route.resource === 'namespaces' && route.name) route.namespace = route.name;
  }
  const verbs: Record<string, KubeVerb> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
  if (method === 'GET') route.verb = watch ? 'watch' : route.name ? 'get' : 'list';
  else if (method === 'DELETE') route.verb = route.name ? 'delete' : 'deletecollection';
  else route.verb = verbs[method];
  route.def = findResource(group, version, route.resource, served);
  return route;
}

/** How RBAC reasons name the requesting user: `ServiceAccount "worker/ephemera"` for a service account. */
export function rbacSubject(user: string): string {
  const m = user.match(/^system:serviceaccount:([^:]+):(.+)$/);
  return m ? `ServiceAccount "${m[2]}/${m[1]}"` : `User "${user}"`;
}

export function parseBody(raw: string, contentType: string): Obj {
  if (!raw.trim()) throw badRequest('the body of the request was empty');
  let parsed: unknown;
  try {
    parsed = contentType.includes('yaml') ? parseYaml(raw) : JSON.parse(raw);
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value of type struct`);
  return stripNulls(parsed);
}

/** The object in a write's body must be of the URL's kind, name and namespace (missing apiVersion/kind default to it). */
export function checkIdentity(d: ResourceDef, obj: Obj, route: Route, requireTypeMeta = false): void {
  const apiVersion = apiVersionOf(d);
  if (requireTypeMeta && !obj.apiVersion) throw badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
  if (requireTypeMeta && !obj.kind) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
  if (obj.kind !== undefined && obj.kind !== d.kind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${d.kind})`);
  obj.apiVersion = apiVersion;
  obj.kind = d.kind;
  obj.metadata = isObject(obj.metadata) ? obj.metadata : {};
  if (route.name !== undefined && obj.metadata.name !== route.name) {
    throw badRequest(`the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${route.name})`);
  }
  if (d.namespaced) {
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== route.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = route.namespace;
  } else delete obj.metadata.namespace;
}
