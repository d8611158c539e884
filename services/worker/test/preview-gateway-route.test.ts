import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1NetworkPolicy } from '@kubernetes/client-node';
import { HTTPRoute, type IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { ConfigError } from '@ephemera/runtime';
import { loadWorkerConfig } from '../src/config.js';
import { previewConfig, renderPreview } from './preview-render.js';

// PREVIEW_ROUTING=gateway: each preview is routed by an HTTPRoute on the operator's Gateway instead of an Ingress.

const GATEWAY = { PREVIEW_ROUTING: 'gateway', PREVIEW_GATEWAY: 'gateway-system/previews' };
const HOST = 'pr-7-web.preview.test';
const routeOf = (objects: KubernetesObject[]) => objects.find((o) => o.kind === 'HTTPRoute') as IHTTPRoute;
const policyOf = (objects: KubernetesObject[]) => objects.find((o) => o.kind === 'NetworkPolicy') as V1NetworkPolicy;
const admittedNamespaces = (p: V1NetworkPolicy) =>
  (p.spec!.ingress ?? []).flatMap((r) => r._from ?? []).flatMap((peer) => (peer.namespaceSelector ? [peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name']] : []));

const TWO_ROUTES = `version: 1
services:
  web: { image: ghcr.io/acme/web:1, port: 3000 }
  api: { image: ghcr.io/acme/api:1, port: 8080 }
routes:
  - { path: /, service: web }
  - { path: /api/v2, service: api }
  - { path: /api, service: web }
`;

describe('a preview routed by the Gateway API', () => {
  it('gets an HTTPRoute on the named Gateway for its host, valid by the Gateway API schema, and no Ingress', () => {
    const objects = renderPreview(GATEWAY);
    expect(objects.filter((o) => o.kind === 'Ingress')).toEqual([]);
    const route = routeOf(objects);
    expect(() => new HTTPRoute(route).validate()).not.toThrow();
    expect(route).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', metadata: { name: 'ephemera-preview', namespace: 'pr-7-web' } });
    expect(route.metadata!.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ephemera', 'ephemera.dev/environment': '7' });
    expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'previews' }]);
    expect(route.spec.hostnames).toEqual([HOST]);
    expect(route.spec.rules).toEqual([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port: 3000 }] }]);
  });

  it('names the listener with PREVIEW_GATEWAY_SECTION', () => {
    expect(routeOf(renderPreview({ ...GATEWAY, PREVIEW_GATEWAY_SECTION: 'previews-https' })).spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'previews', sectionName: 'previews-https' },
    ]);
  });

  it('has one rule per route, longest prefix first, each to its service port', () => {
    const route = routeOf(renderPreview(GATEWAY, previewConfig(TWO_ROUTES)));
    expect(() => new HTTPRoute(route).validate()).not.toThrow();
    expect(route.spec.rules!.map((r) => [r.matches![0]!.path!.value, r.backendRefs![0]!.name, r.backendRefs![0]!.port])).toEqual([
      ['/api/v2', 'api', 8080],
      ['/api', 'web', 3000],
      ['/', 'web', 3000],
    ]);
  });

  it('lets the Gateway\'s data plane in: the Gateway\'s namespace, or PREVIEW_GATEWAY_NAMESPACE, instead of INGRESS_NAMESPACE', () => {
    expect(admittedNamespaces(policyOf(renderPreview()))).toEqual(['ingress-nginx']);
    expect(admittedNamespaces(policyOf(renderPreview(GATEWAY)))).toEqual(['gateway-system']);
    expect(admittedNamespaces(policyOf(renderPreview({ ...GATEWAY, PREVIEW_GATEWAY_NAMESPACE: 'envoy-gateway-system' })))).toEqual(['envoy-gateway-system']);
  });

  it('an Ingress stays the default', () => {
    const objects = renderPreview();
    expect(objects.filter((o) => o.kind === 'HTTPRoute')).toEqual([]);
    expect(objects.filter((o) => o.kind === 'Ingress').map((o) => o.metadata!.name)).toEqual(['ephemera-preview']);
  });
});

describe('PREVIEW_ROUTING settings the worker refuses at start', () => {
  const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: 'a3f1c9e07b5d4e2b8c6a9d1e0f7b3c5a' };
  const refused = (env: Record<string, string>, message: RegExp) => {
    expect(() => loadWorkerConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...base, ...env })).toThrow(message);
  };

  it('gateway without PREVIEW_GATEWAY, or one that is not namespace/name', () => {
    refused({ PREVIEW_ROUTING: 'gateway' }, /PREVIEW_GATEWAY: required with PREVIEW_ROUTING=gateway/);
    refused({ ...GATEWAY, PREVIEW_GATEWAY: 'previews' }, /PREVIEW_GATEWAY: must be namespace\/name/);
    refused({ ...GATEWAY, PREVIEW_GATEWAY: 'Gateway-System/previews' }, /PREVIEW_GATEWAY: must be namespace\/name/);
    refused({ PREVIEW_ROUTING: 'gateways' }, /PREVIEW_ROUTING/);
    refused({ ...GATEWAY, PREVIEW_GATEWAY_SECTION: 'HTTPS listener' }, /PREVIEW_GATEWAY_SECTION: must be a Gateway listener name/);
  });

  it('settings the chosen routing would ignore', () => {
    refused({ PREVIEW_GATEWAY: 'gateway-system/previews' }, /PREVIEW_GATEWAY: only read with PREVIEW_ROUTING=gateway/);
    refused({ PREVIEW_GATEWAY_NAMESPACE: 'envoy-gateway-system' }, /PREVIEW_GATEWAY_NAMESPACE: only read with PREVIEW_ROUTING=gateway/);
    refused({ ...GATEWAY, PREVIEW_TLS_SECRET: 'gateway-system/wildcard' }, /PREVIEW_TLS_SECRET: not read with PREVIEW_ROUTING=gateway/);
    refused({ ...GATEWAY, PREVIEW_TLS_MODE: 'cert-manager', PREVIEW_TLS_ISSUER: 'letsencrypt' }, /PREVIEW_TLS_MODE, PREVIEW_TLS_ISSUER: not read/);
    refused({ ...GATEWAY, INGRESS_CLASS: 'nginx' }, /INGRESS_CLASS: not read with PREVIEW_ROUTING=gateway/);
    refused({ ...GATEWAY, INGRESS_NAMESPACE: 'ingress-nginx' }, /INGRESS_NAMESPACE: not read with PREVIEW_ROUTING=gateway/);
  });

  it('accepts a complete gateway configuration', () => {
    const config = loadWorkerConfig({ ...base, ...GATEWAY, PREVIEW_GATEWAY_SECTION: 'https', PREVIEW_GATEWAY_NAMESPACE: 'envoy-gateway-system' });
    expect(config).toMatchObject({ PREVIEW_ROUTING: 'gateway', PREVIEW_GATEWAY: { namespace: 'gateway-system', name: 'previews' }, PREVIEW_GATEWAY_SECTION: 'https' });
  });
});
