import { previewGateway, previewTlsMode } from '../../config.js';
import type { PreviewConfigSource } from '../preview-config-source.js';
import { ProvisionError, type LogSink, type OwnedNamespace, type ProvisionResult, type ProvisionTarget, type Provisioner } from '../provisioner.js';
import { checkKubernetesAccess, checkKubernetesIdentity, type AccessCheckResult, type SecretRef } from './access-check.js';
import { deployPreview } from './deploy-preview.js';
import type { KubeApi } from './kube-api.js';
import { REAL_CLOCK, type KubernetesSettings, type ProvisionerClock } from './kubernetes-settings.js';
import { deleteNamespace, destroyPreview, ownedNamespaces } from './preview-destroy.js';
import { sourceSecrets } from './preview-secrets.js';
import type { ProvisionerContext } from './provisioner-context.js';

export type { SecretRef } from './access-check.js';
export type { KubernetesSettings } from './kubernetes-settings.js';

/** What the provisioner works with besides its configuration. */
export interface KubernetesProvisionerDeps {
  api: KubeApi;
  configs: PreviewConfigSource;
  /** The provisioner's clock; tests run it faster (default: real time). */
  clock?: Partial<ProvisionerClock> | undefined;
}

/**
 * Previews on Kubernetes: a namespace per environment, fenced by a quota, default limits and a network policy,
 * with the repository's services (from `.ephemera.yml`) as Deployments and Services behind one Ingress. Objects
 * are applied server-side as field manager `ephemera`, whole each time, so a provision and an update are the
 * same operation; objects a new configuration no longer has are deleted. Every object carries this
 * installation's labels, and nothing without them is ever changed or deleted.
 *
 * @example
 * const provisioner = new KubernetesProvisioner(loadWorkerConfig(), { api: new KubeApi({ requestTimeoutMs: 30_000 }), configs });
 */
export class KubernetesProvisioner implements Provisioner {
  readonly name = 'kubernetes';
  private readonly ctx: ProvisionerContext;
  private username: Promise<string> | undefined;

  constructor(settings: KubernetesSettings, deps: KubernetesProvisionerDeps) {
    this.ctx = {
      settings,
      api: deps.api,
      configs: deps.configs,
      clock: { ...REAL_CLOCK, ...deps.clock },
      tlsMode: previewTlsMode(settings),
      gateway: previewGateway(settings),
      whoAmI: (signal) => this.whoAmI(signal),
    };
  }

  /**
   * Checks at start that the API answers and grants the worker every right the provisioner uses (see
   * checkKubernetesAccess), so a missing one stops the worker with its name instead of failing the first preview.
   * Learns the worker's identity on the way, which each preview namespace's RoleBinding names.
   */
  async checkAccess(signal: AbortSignal = new AbortController().signal): Promise<AccessCheckResult> {
    const { api, settings, gateway } = this.ctx;
    const result = await checkKubernetesAccess(api, { subject: settings.EPHEMERA_KUBE_SUBJECT, sourceSecrets: this.sourceSecrets(), gateway, signal });
    this.username ??= Promise.resolve(result.username);
    return result;
  }

  /** Every Secret the provisioner may copy into a preview: the worker needs `get` on each, and on nothing else. */
  sourceSecrets(): SecretRef[] {
    return sourceSecrets(this.ctx);
  }

  /** The username preview RoleBindings name: EPHEMERA_KUBE_SUBJECT, or the API server's answer, asked once. */
  private whoAmI(signal: AbortSignal): Promise<string> {
    const subject = this.ctx.settings.EPHEMERA_KUBE_SUBJECT;
    if (subject) return Promise.resolve(subject);
    this.username ??= checkKubernetesIdentity(this.ctx.api, signal).catch((err: unknown) => {
      this.username = undefined;
      throw new ProvisionError((err as Error).message, true);
    });
    return this.username;
  }

  provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return deployPreview(this.ctx, target, log, signal);
  }

  update(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return deployPreview(this.ctx, target, log, signal);
  }

  /** DESTROY_TIMEOUT_SECONDS, and on the provisioner's clock. */
  get destroyTimeout(): { seconds: number; ms: number } {
    const seconds = this.ctx.settings.DESTROY_TIMEOUT_SECONDS;
    return { seconds, ms: seconds * this.ctx.clock.secondMs };
  }

  destroy(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<'gone' | 'terminating'> {
    return destroyPreview(this.ctx, target, log, signal);
  }

  ownedNamespaces(signal: AbortSignal): Promise<OwnedNamespace[]> {
    return ownedNamespaces(this.ctx, signal);
  }

  deleteNamespace(name: string, signal: AbortSignal): Promise<void> {
    return deleteNamespace(this.ctx.api, name, signal);
  }
}
