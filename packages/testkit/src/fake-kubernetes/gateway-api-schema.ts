/**
 * What the Gateway API CRDs' schemas (standard channel, v1.5) make the API server do besides validation: the
 * structural defaults it fills in on every write (and the status a new Gateway or GatewayClass reads back with
 * until its controller writes one), and the kinds' OpenAPI schemas from @kubernetes-models/gateway-api.
 */
import { clone, isObject, type Obj } from './merge.js';
import { GATEWAY_GROUP } from './resources.js';

type SchemaValidator = (obj: Obj) => void;

/** Loaded only by a server that serves the group, so suites that never ask for it do not pay for the import. */
export async function loadGatewayApiValidators(): Promise<Array<[string, SchemaValidator]>> {
  // One at a time, as validation.ts loads the built-in kinds: Jest's ESM loader fails on concurrent shared imports.
  const gatewayClass = await import('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass');
  const gateway = await import('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway');
  const route = await import('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute');
  return [
    [`${GATEWAY_GROUP}/v1/GatewayClass`, (o) => new gatewayClass.GatewayClass(o as never).validate()],
    [`${GATEWAY_GROUP}/v1/Gateway`, (o) => new gateway.Gateway(o as never).validate()],
    [`${GATEWAY_GROUP}/v1/HTTPRoute`, (o) => new route.HTTPRoute(o as never).validate()],
  ];
}

const pending = (type: string) => ({ lastTransitionTime: '1970-01-01T00:00:00Z', message: 'Waiting for controller', reason: 'Pending', status: 'Unknown', type });
const GATEWAY_STATUS = { conditions: [pending('Accepted'), pending('Programmed')] };
const CLASS_STATUS = { conditions: [pending('Accepted')] };
const ROOT_PATH = { type: 'PathPrefix', value: '/' };

/** A filter's defaults, for route rules' filters and backendRefs' filters alike. */
const filterDefaults = (at: string): Array<[string, unknown]> => [
  [`${at}.cors.maxAge`, 5],
  [`${at}.requestMirror.backendRef.group`, ''],
  [`${at}.requestMirror.backendRef.kind`, 'Service'],
  [`${at}.requestMirror.fraction.denominator`, 100],
  [`${at}.requestRedirect.statusCode`, 302],
];

/**
 * Each kind's `default:`s, by field path (`[]`: every item of a list), outermost first: a default applies where its
 * field is absent and its parent present, and what it fills in gets the defaults beneath it.
 */
const DEFAULTS: Record<string, Array<[string, unknown]>> = {
  HTTPRoute: [
    ['spec.parentRefs[].group', GATEWAY_GROUP],
    ['spec.parentRefs[].kind', 'Gateway'],
    ['spec.rules', [{ matches: [{ path: ROOT_PATH }] }]],
    ['spec.rules[].matches', [{ path: ROOT_PATH }]],
    ['spec.rules[].matches[].path', ROOT_PATH],
    ['spec.rules[].matches[].path.type', 'PathPrefix'],
    ['spec.rules[].matches[].path.value', '/'],
    ['spec.rules[].matches[].headers[].type', 'Exact'],
    ['spec.rules[].matches[].queryParams[].type', 'Exact'],
    ...filterDefaults('spec.rules[].filters[]'),
    ['spec.rules[].backendRefs[].group', ''],
    ['spec.rules[].backendRefs[].kind', 'Service'],
    ['spec.rules[].backendRefs[].weight', 1],
    ...filterDefaults('spec.rules[].backendRefs[].filters[]'),
    ['status.parents[].parentRef.group', GATEWAY_GROUP],
    ['status.parents[].parentRef.kind', 'Gateway'],
  ],
  Gateway: [
    ['spec.addresses[].type', 'IPAddress'],
    ['spec.allowedListeners.namespaces', { from: 'None' }],
    ['spec.allowedListeners.namespaces.from', 'None'],
    ['spec.listeners[].allowedRoutes', { namespaces: { from: 'Same' } }],
    ['spec.listeners[].allowedRoutes.kinds[].group', GATEWAY_GROUP],
    ['spec.listeners[].allowedRoutes.namespaces', { from: 'Same' }],
    ['spec.listeners[].allowedRoutes.namespaces.from', 'Same'],
    ['spec.listeners[].tls.certificateRefs[].group', ''],
    ['spec.listeners[].tls.certificateRefs[].kind', 'Secret'],
    ['spec.listeners[].tls.mode', 'Terminate'],
    ['status.conditions', GATEWAY_STATUS.conditions],
    ['status.addresses[].type', 'IPAddress'],
    ['status.listeners[].supportedKinds[].group', GATEWAY_GROUP],
  ],
  GatewayClass: [['status.conditions', CLASS_STATUS.conditions]],
};

function defaultAt(node: unknown, path: string[], value: unknown): void {
  if (!isObject(node)) return;
  const [head, ...rest] = path;
  const items = head!.endsWith('[]');
  const key = items ? head!.slice(0, -2) : head!;
  if (rest.length === 0 && !items) {
    if (node[key] === undefined) node[key] = clone(value);
    return;
  }
  const child = node[key];
  if (!items) defaultAt(child, rest, value);
  else if (Array.isArray(child)) for (const item of child) defaultAt(item, rest, value);
}

/** The structural defaulting of a Gateway API object (a no-op for other kinds). */
export function gatewayApiDefaults(kind: string, obj: Obj): void {
  for (const [path, value] of DEFAULTS[kind] ?? []) defaultAt(obj, path.split('.'), value);
}

/** The `status:` default a new Gateway or GatewayClass reads back with: its controller has not written one yet. */
export function gatewayApiInitialStatus(kind: string): Obj | undefined {
  if (kind === 'Gateway') return clone(GATEWAY_STATUS);
  if (kind === 'GatewayClass') return clone(CLASS_STATUS);
  return undefined;
}
