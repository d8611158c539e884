import { ConfigError } from '@ephemera/runtime';
import type { WorkerConfig } from './config.js';

// How a preview's URL reaches it (PREVIEW_ROUTING) and how its TLS is set up (PREVIEW_TLS_MODE): combinations that
// cannot work, or settings the choice would ignore, are refused naming the variables.

export type PreviewTlsMode = 'default-certificate' | 'cert-manager' | 'copy' | 'none';

/** The Gateway previews attach to (PREVIEW_ROUTING=gateway), as the provisioner takes it. */
export interface PreviewGatewaySettings {
  namespace: string;
  name: string;
  /** PREVIEW_GATEWAY_SECTION: one listener; undefined: every listener that admits the route. */
  sectionName: string | undefined;
  /** PREVIEW_GATEWAY_NAMESPACE: where the Gateway's proxies run, let into previews. */
  dataPlaneNamespace: string;
}

/**
 * PREVIEW_ROUTING=gateway's Gateway, or undefined for Ingresses. Settings the chosen routing would ignore are
 * refused naming the variables: TLS ends at the Gateway's listener, so nothing of PREVIEW_TLS_* applies there, and
 * the Ingress settings have no meaning for an HTTPRoute (INGRESS_NAMESPACE counts only when set, since it has a default).
 */
export function previewGateway(
  config: Pick<
    WorkerConfig,
    'PREVIEW_ROUTING' | 'PREVIEW_GATEWAY' | 'PREVIEW_GATEWAY_SECTION' | 'PREVIEW_GATEWAY_NAMESPACE' | 'PREVIEW_TLS_MODE' | 'PREVIEW_TLS_SECRET' | 'PREVIEW_TLS_ISSUER' | 'INGRESS_CLASS'
  >,
  environment: NodeJS.ProcessEnv = {},
): PreviewGatewaySettings | undefined {
  const gatewayOnly = (['PREVIEW_GATEWAY', 'PREVIEW_GATEWAY_SECTION', 'PREVIEW_GATEWAY_NAMESPACE'] as const).filter((k) => config[k] !== undefined);
  if (config.PREVIEW_ROUTING === 'ingress') {
    if (gatewayOnly.length > 0) throw new ConfigError([`${gatewayOnly.join(', ')}: only read with PREVIEW_ROUTING=gateway (PREVIEW_ROUTING=ingress)`]);
    return undefined;
  }
  if (!config.PREVIEW_GATEWAY) throw new ConfigError(['PREVIEW_GATEWAY: required with PREVIEW_ROUTING=gateway (namespace/name of the Gateway previews attach to)']);
  const ignored: string[] = (['PREVIEW_TLS_MODE', 'PREVIEW_TLS_SECRET', 'PREVIEW_TLS_ISSUER', 'INGRESS_CLASS'] as const).filter((k) => config[k] !== undefined);
  if (environment.INGRESS_NAMESPACE?.trim()) ignored.push('INGRESS_NAMESPACE');
  if (ignored.length > 0) {
    throw new ConfigError([
      `${ignored.join(', ')}: not read with PREVIEW_ROUTING=gateway (TLS ends at the Gateway's listener; PREVIEW_GATEWAY_NAMESPACE is let into previews); unset them`,
    ]);
  }
  return {
    ...config.PREVIEW_GATEWAY,
    sectionName: config.PREVIEW_GATEWAY_SECTION,
    dataPlaneNamespace: config.PREVIEW_GATEWAY_NAMESPACE ?? config.PREVIEW_GATEWAY.namespace,
  };
}

/**
 * PREVIEW_TLS_MODE, or its default: `copy` when PREVIEW_TLS_SECRET is set, else `default-certificate` for https URLs,
 * else `none`. Combinations that cannot work, or a variable the mode would ignore, are refused naming the variables.
 */
export function previewTlsMode(config: {
  PREVIEW_TLS_MODE?: PreviewTlsMode | undefined;
  PREVIEW_TLS_SECRET?: unknown;
  PREVIEW_TLS_ISSUER?: string | undefined;
  PREVIEW_URL_SCHEME: 'http' | 'https';
}): PreviewTlsMode {
  const mode = config.PREVIEW_TLS_MODE ?? (config.PREVIEW_TLS_SECRET ? 'copy' : config.PREVIEW_URL_SCHEME === 'https' ? 'default-certificate' : 'none');
  if (mode === 'copy' && !config.PREVIEW_TLS_SECRET) throw new Error('PREVIEW_TLS_MODE=copy needs PREVIEW_TLS_SECRET, the Secret copied into each preview');
  if (mode === 'cert-manager' && !config.PREVIEW_TLS_ISSUER) throw new Error('PREVIEW_TLS_MODE=cert-manager needs PREVIEW_TLS_ISSUER, the ClusterIssuer that issues each preview\'s certificate');
  if (mode !== 'copy' && config.PREVIEW_TLS_SECRET) throw new Error(`PREVIEW_TLS_SECRET is only read with PREVIEW_TLS_MODE=copy (PREVIEW_TLS_MODE=${mode}); unset one of them`);
  if (mode !== 'cert-manager' && config.PREVIEW_TLS_ISSUER) throw new Error(`PREVIEW_TLS_ISSUER is only used with PREVIEW_TLS_MODE=cert-manager (PREVIEW_TLS_MODE=${mode})`);
  // `none` with https stays allowed: TLS may end in front of the ingress controller (a cloud load balancer).
  return mode;
}
