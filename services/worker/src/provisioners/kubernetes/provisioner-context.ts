import type { PreviewGatewaySettings, PreviewTlsMode } from '../../config.js';
import type { PreviewConfigSource } from '../preview-config-source.js';
import type { KubeApi } from './kube-api.js';
import type { KubernetesSettings, ProvisionerClock } from './kubernetes-settings.js';

/** What every step of the Kubernetes provisioner shares: the configuration, the API, the clock and what follows from them. */
export interface ProvisionerContext {
  readonly settings: KubernetesSettings;
  readonly api: KubeApi;
  readonly configs: PreviewConfigSource;
  readonly clock: ProvisionerClock;
  /** PREVIEW_TLS_MODE, or its default, as config.ts resolves it. */
  readonly tlsMode: PreviewTlsMode;
  /** PREVIEW_ROUTING=gateway: the Gateway previews' HTTPRoutes attach to; undefined: an Ingress each. */
  readonly gateway: PreviewGatewaySettings | undefined;
  /** The username preview RoleBindings name (EPHEMERA_KUBE_SUBJECT, or the API server's answer). */
  whoAmI(signal: AbortSignal): Promise<string>;
}
