import type { KubernetesObject, V1Ingress } from '@kubernetes/client-node';
import { HTTPRoute, type IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { routesByPrefix, type PreviewConfig } from '@ephemera/schema';
import { previewGateway, previewTlsMode, type PreviewGatewaySettings, type PreviewTlsMode, type WorkerConfig } from '../../config.js';
import type { PreviewRoutingKey } from './kubernetes-settings.js';

/** The name of the object that routes the preview's host: its Ingress or its HTTPRoute. */
export const ROUTE_NAME = 'ephemera-preview';

/** The Secret cert-manager writes the preview's own certificate into (PREVIEW_TLS_MODE=cert-manager). */
const ISSUED_TLS_SECRET = 'preview-tls';

/** cert-manager's ingress-shim annotation: a Certificate for the Ingress's `tls` hosts, issued by this ClusterIssuer. */
export const CERT_MANAGER_ISSUER = 'cert-manager.io/cluster-issuer';

export const GATEWAY_API_VERSION = 'gateway.networking.k8s.io/v1';

/** How the preview's Ingress gets its certificate (PREVIEW_TLS_MODE). */
export interface PreviewTls {
  mode: PreviewTlsMode;
  /** `copy`: the name of the Secret copied from PREVIEW_TLS_SECRET. */
  secretName?: string | undefined;
  /** `cert-manager`: the ClusterIssuer (PREVIEW_TLS_ISSUER). */
  issuer?: string | undefined;
}

/**
 * How the preview's URL reaches it (PREVIEW_ROUTING): an Ingress for the ingress controller in `namespace`, or an
 * HTTPRoute attached to the operator's Gateway, whose listener ends TLS.
 */
export type PreviewRouting =
  | { mode: 'ingress'; namespace: string; className: string | undefined; tls: PreviewTls }
  | { mode: 'gateway'; gateway: PreviewGatewaySettings };

/** PREVIEW_ROUTING's route, from the configuration as config.ts checked it (TLS mode and Gateway by its rules). */
export function previewRouting(settings: Pick<WorkerConfig, PreviewRoutingKey>): PreviewRouting {
  const gateway = previewGateway(settings);
  if (gateway) return { mode: 'gateway', gateway };
  return {
    mode: 'ingress',
    namespace: settings.INGRESS_NAMESPACE,
    className: settings.INGRESS_CLASS,
    tls: { mode: previewTlsMode(settings), secretName: settings.PREVIEW_TLS_SECRET?.name, issuer: settings.PREVIEW_TLS_ISSUER },
  };
}

/** The namespace the preview's NetworkPolicy lets in besides its own: the ingress controller's, or the Gateway's data plane. */
export function routerNamespace(routing: PreviewRouting): string {
  return routing.mode === 'ingress' ? routing.namespace : routing.gateway.dataPlaneNamespace;
}

/** The HTTPRoute's reference to the Gateway, as its `parentRefs` holds it and as the Gateway's controller reports on it. */
export function gatewayParentRef(gateway: PreviewGatewaySettings): { group: string; kind: string; namespace: string; name: string; sectionName?: string } {
  return {
    group: 'gateway.networking.k8s.io',
    kind: 'Gateway',
    namespace: gateway.namespace,
    name: gateway.name,
    ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
  };
}

/** The paths of the preview host, longest prefix first, each to a service's port. */
function routedPaths(config: PreviewConfig): Array<{ path: string; service: string; port: number }> {
  const routes = config.routes ? routesByPrefix(config.routes) : [{ path: '/', service: config.expose ?? Object.keys(config.services)[0]! }];
  return routes.map((r) => ({ path: r.path, service: r.service, port: config.services[r.service]!.port! }));
}

/** The object that routes `host` to the preview's services: an Ingress or an HTTPRoute, by PREVIEW_ROUTING. */
export function previewRoute(routing: PreviewRouting, host: string, config: PreviewConfig, metadata: { name: string; namespace: string; labels: Record<string, string> }): KubernetesObject {
  const paths = routedPaths(config);
  if (routing.mode === 'gateway') {
    const route: IHTTPRoute = {
      apiVersion: GATEWAY_API_VERSION,
      kind: 'HTTPRoute',
      metadata,
      spec: {
        parentRefs: [gatewayParentRef(routing.gateway)],
        hostnames: [host],
        // The Gateway API ranks matches by the longest path itself; the order is kept for whoever reads the object.
        rules: paths.map((p) => ({ matches: [{ path: { type: 'PathPrefix', value: p.path } }], backendRefs: [{ name: p.service, port: p.port }] })),
      },
    };
    // Checked against the Gateway API's schema here, so a route the API server would refuse fails before anything is applied.
    new HTTPRoute(route).validate();
    return route as KubernetesObject;
  }
  const tls = ingressTls(routing.tls, host);
  const ingress: V1Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...metadata, ...tls.annotations },
    spec: {
      ...(routing.className ? { ingressClassName: routing.className } : {}),
      ...tls.spec,
      rules: [{ host, http: { paths: paths.map((p) => ({ path: p.path, pathType: 'Prefix', backend: { service: { name: p.service, port: { number: p.port } } } })) } }],
    },
  };
  return ingress;
}

/** The Ingress's `tls` section and annotations for PREVIEW_TLS_MODE. */
function ingressTls(tls: PreviewTls, host: string): { spec: Pick<NonNullable<V1Ingress['spec']>, 'tls'>; annotations: { annotations?: Record<string, string> } } {
  switch (tls.mode) {
    case 'none':
      return { spec: {}, annotations: {} };
    // No secretName: the ingress controller's default certificate (a wildcard for the base domain) serves the host.
    case 'default-certificate':
      return { spec: { tls: [{ hosts: [host] }] }, annotations: {} };
    case 'cert-manager':
      return {
        spec: { tls: [{ hosts: [host], secretName: ISSUED_TLS_SECRET }] },
        annotations: { annotations: { [CERT_MANAGER_ISSUER]: tls.issuer! } },
      };
    case 'copy':
      return { spec: { tls: [{ hosts: [host], secretName: tls.secretName! }] }, annotations: {} };
  }
}
