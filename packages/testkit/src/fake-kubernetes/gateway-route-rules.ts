/**
 * The Gateway API's rules for one HTTPRoute and one Gateway it names (apis/v1/httproute_types.go, shared_types.go,
 * gateway_types.go): which listeners the parentRef selects (sectionName, port), which of those allow the route
 * (allowedRoutes namespaces and kinds), whether their hostnames intersect the route's; and whether the route's
 * backendRefs resolve. Pure functions over stored objects: the controller (gateway-controller.ts) writes the verdicts.
 * Messages follow Envoy Gateway's, with what failed named.
 */
import { isObject, type Obj } from './merge.js';
import { GATEWAY_GROUP } from './resources.js';
import { matchesSelectorObject } from './selectors.js';

/** What a rule decided for one condition of a route's parent status. */
export interface Verdict {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface Acceptance {
  accepted: Verdict;
  /** The listeners the parentRef selects (by sectionName and port), by name. */
  selected: string[];
  /** The listeners the route attaches to when accepted: selected, allowing it, and with intersecting hostnames. */
  attached: string[];
}

const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObject) : []);
const verdict = (status: Verdict['status'], reason: string, message: string): Verdict => ({ status, reason, message });
const ROUTE_KIND = 'HTTPRoute';
const HTTP_PROTOCOLS = ['HTTP', 'HTTPS'];

/** The Gateway a parentRef names (its defaults: group gateway.networking.k8s.io, kind Gateway, the route's namespace), or undefined for another kind of parent. */
export function gatewayOf(ref: Obj, routeNamespace: string): { namespace: string; name: string } | undefined {
  if ((ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') return undefined;
  return { namespace: ref.namespace ?? routeNamespace, name: String(ref.name) };
}

/** The route kinds a listener supports: allowedRoutes.kinds when given, else its protocol's (HTTPRoute for HTTP and HTTPS). */
export function supportedKinds(listener: Obj): { supported: Obj[]; invalid: Obj[] } {
  const requested = list(listener.allowedRoutes?.kinds);
  if (requested.length === 0) return { supported: HTTP_PROTOCOLS.includes(listener.protocol) ? [{ group: GATEWAY_GROUP, kind: ROUTE_KIND }] : [], invalid: [] };
  const ok = (k: Obj) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === ROUTE_KIND && HTTP_PROTOCOLS.includes(listener.protocol);
  return { supported: requested.filter(ok).map(() => ({ group: GATEWAY_GROUP, kind: ROUTE_KIND })), invalid: requested.filter((k) => !ok(k)) };
}

/** metav1.FormatLabelSelector's text: `team=web,tier in (a,b),!legacy`. */
function formatSelector(selector: Obj | undefined): string {
  if (!isObject(selector)) return '<none>';
  const parts = Object.entries(isObject(selector.matchLabels) ? selector.matchLabels : {}).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of list(selector.matchExpressions)) {
    const values = (Array.isArray(e.values) ? e.values : []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(String(e.key));
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length > 0 ? parts.join(',') : '<none>';
}

/** Why a listener does not allow the route, or undefined when it does. */
function refusal(listener: Obj, gateway: Obj, route: Obj, routeNamespace: Obj | undefined): string | undefined {
  const name = `listener "${listener.name}"`;
  if (supportedKinds(listener).supported.length === 0) return `${name} (protocol ${listener.protocol}) does not allow kind ${ROUTE_KIND}`;
  const ns = route.metadata.namespace as string;
  const namespaces = isObject(listener.allowedRoutes?.namespaces) ? listener.allowedRoutes.namespaces : {};
  switch (namespaces.from ?? 'Same') {
    case 'All':
      return undefined;
    case 'Selector':
      if (matchesSelectorObject(namespaces.selector, routeNamespace?.metadata?.labels)) return undefined;
      return `${name} allows routes from namespaces matching ${formatSelector(namespaces.selector)}, which namespace "${ns}" does not`;
    default:
      if (ns === gateway.metadata.namespace) return undefined;
      return `${name} allows routes from its own namespace "${gateway.metadata.namespace}" only, not from "${ns}"`;
  }
}

/** One hostname of each: equal, or a wildcard (`*.example.com`: one label or more before `.example.com`) covering the other. */
function hostnamesMatch(route: string, listener: string): boolean {
  if (route === listener) return true;
  const suffix = (h: string) => (h.startsWith('*.') ? h.slice(1) : undefined);
  const covers = (wild: string, host: string) => host.endsWith(wild) && host.length > wild.length;
  const l = suffix(listener);
  const r = suffix(route);
  if (l && r) return route.endsWith(l) || listener.endsWith(r);
  if (l) return covers(l, route);
  if (r) return covers(r, listener);
  return false;
}

/** A listener without hostname takes any route; a route without hostnames any listener. */
export const hostnamesIntersect = (routeHostnames: string[], listenerHostname: string | undefined) =>
  listenerHostname === undefined || routeHostnames.length === 0 || routeHostnames.some((h) => hostnamesMatch(h, listenerHostname));

/** The Accepted condition a Gateway's controller writes for a route's parentRef to that Gateway. */
export function acceptance(route: Obj, ref: Obj, gateway: Obj, routeNamespace: Obj | undefined): Acceptance {
  const selected = list(gateway.spec?.listeners).filter((l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port));
  const names = (ls: Obj[]) => ls.map((l) => String(l.name));
  if (selected.length === 0) {
    const wanted = [ref.sectionName !== undefined ? ` named "${ref.sectionName}"` : '', ref.port !== undefined ? ` on port ${ref.port}` : ''].join('');
    const gw = `${gateway.metadata.namespace}/${gateway.metadata.name}`;
    return { accepted: verdict('False', 'NoMatchingParent', `No listeners match this parent ref: Gateway ${gw} has no listener${wanted}`), selected: [], attached: [] };
  }
  const refusals = selected.map((l) => refusal(l, gateway, route, routeNamespace));
  const allowing = selected.filter((_, i) => refusals[i] === undefined);
  if (allowing.length === 0) {
    const why = refusals.join('; ');
    return { accepted: verdict('False', 'NotAllowedByListeners', `No listeners included by this parent ref allowed this attachment: ${why}`), selected: names(selected), attached: [] };
  }
  const hostnames: string[] = Array.isArray(route.spec?.hostnames) ? route.spec.hostnames : [];
  const attached = allowing.filter((l) => hostnamesIntersect(hostnames, l.hostname));
  if (attached.length === 0) {
    const listeners = allowing.map((l) => `"${l.name}" (${l.hostname})`).join(', ');
    const message = `There were no hostname intersections between the HTTPRoute and this parent ref's Listener(s): route hostnames ${hostnames.join(', ')}; listeners ${listeners}`;
    return { accepted: verdict('False', 'NoMatchingListenerHostname', message), selected: names(selected), attached: [] };
  }
  return { accepted: verdict('True', 'Accepted', 'Route is accepted'), selected: names(selected), attached: names(attached) };
}

/** The ResolvedRefs condition: every backendRef names a Service of the route's namespace, with that port. */
export function backendResolution(route: Obj, service: (namespace: string, name: string) => Obj | undefined): Verdict {
  const ns = route.metadata.namespace as string;
  const failures: Array<{ reason: string; message: string }> = [];
  list(route.spec?.rules).forEach((rule) => {
    for (const ref of list(rule.backendRefs)) {
      const group = ref.group ?? '';
      const kind = ref.kind ?? 'Service';
      const namespace = ref.namespace ?? ns;
      if (group !== '' || kind !== 'Service') {
        failures.push({ reason: 'InvalidKind', message: `Backend ref to ${group ? `${kind}.${group}` : kind} ${namespace}/${ref.name} is not supported: only Services are` });
      } else if (namespace !== ns) {
        failures.push({ reason: 'RefNotPermitted', message: `Backend ref to Service ${namespace}/${ref.name} not permitted by any ReferenceGrant` });
      } else {
        const svc = service(namespace, String(ref.name));
        if (!svc) failures.push({ reason: 'BackendNotFound', message: `Service ${namespace}/${ref.name} not found` });
        else if (!list(svc.spec?.ports).some((p) => p.port === ref.port)) failures.push({ reason: 'BackendNotFound', message: `Service ${namespace}/${ref.name} has no port ${ref.port}` });
      }
    }
  });
  if (failures.length === 0) return verdict('True', 'ResolvedRefs', 'Resolved all the Object references for the Route');
  return verdict('False', failures[0]!.reason, [...new Set(failures.map((f) => f.message))].join('; '));
}
