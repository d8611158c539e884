import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Namespace } from '@kubernetes/client-node';
import { ProvisionError, type LogSink, type ProvisionTarget } from '../provisioner.js';
import { kubeRead, type KubeApi } from './kube-api.js';
import { LABELS, MANAGED_BY } from './preview-labels.js';
import type { ProvisionerContext } from './provisioner-context.js';

export function readNamespace(api: KubeApi, name: string, signal: AbortSignal): Promise<V1Namespace | null> {
  return kubeRead(() => api.core.readNamespace({ name }), { signal, what: `reading namespace ${name}` });
}

/** Whether a namespace carries this installation's labels (and, given an environment, that environment's). */
export function ownedBy(ns: V1Namespace, instance: string, environmentId?: number): boolean {
  const labels = ns.metadata?.labels ?? {};
  if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.instance] !== instance) return false;
  return environmentId === undefined || labels[LABELS.environment] === String(environmentId);
}

/**
 * Makes sure the namespace can be (re)used: one of another owner is refused, and one still being deleted (a
 * reopen right after a close, or a namespace removed by hand) is waited for.
 */
export async function claimNamespace(ctx: ProvisionerContext, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<V1Namespace | null> {
  const timeoutSeconds = ctx.settings.DESTROY_TIMEOUT_SECONDS;
  const deadline = Date.now() + timeoutSeconds * ctx.clock.secondMs;
  let said = false;
  for (;;) {
    const ns = await readNamespace(ctx.api, target.namespace, signal);
    if (!ns) return null;
    if (!ownedBy(ns, ctx.settings.EPHEMERA_INSTANCE, target.environmentId)) {
      throw new ProvisionError(`namespace ${target.namespace} exists and does not belong to this environment (labels ${LABELS.instance}, ${LABELS.environment}); it is left alone`, false);
    }
    if (!ns.metadata?.deletionTimestamp) return ns;
    if (!said) log(`namespace ${target.namespace} is still being deleted; waiting for it to go`);
    said = true;
    if (Date.now() > deadline) throw new ProvisionError(`namespace ${target.namespace} is still being deleted after ${timeoutSeconds} s`, true);
    await sleep(ctx.clock.pollMs, undefined, { signal });
  }
}
