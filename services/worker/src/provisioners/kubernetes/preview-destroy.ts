import type { V1Namespace } from '@kubernetes/client-node';
import type { LogSink, OwnedNamespace, ProvisionTarget } from '../provisioner.js';
import { kubeCall, type KubeApi } from './kube-api.js';
import { deleteIfPresent } from './preview-apply.js';
import { instanceSelector, LABELS } from './preview-labels.js';
import { ownedBy, readNamespace } from './preview-namespace.js';
import type { ProvisionerContext } from './provisioner-context.js';

/**
 * Deletes the namespace (and with it everything in it) and looks once: `gone`, or `terminating` for the teardown
 * sweep to follow (a namespace may take minutes, held up by finalizers). A namespace that is already gone is gone;
 * one this installation does not own is left alone.
 */
export async function destroyPreview({ api, settings }: ProvisionerContext, target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<'gone' | 'terminating'> {
  const name = target.namespace;
  const first = await readNamespace(api, name, signal);
  if (!first) {
    log(`namespace ${name} is already gone`);
    return 'gone';
  }
  if (!ownedBy(first, settings.EPHEMERA_INSTANCE)) {
    log(`namespace ${name} is not this installation's (labels ${LABELS.managedBy}, ${LABELS.instance}); left alone`);
    return 'gone';
  }
  if (!first.metadata?.deletionTimestamp) await deleteNamespace(api, name, signal);
  log(`namespace ${name} deletion requested`);
  const ns = await readNamespace(api, name, signal);
  if (!ns) {
    log(`namespace ${name} deleted`);
    return 'gone';
  }
  const conditions = conditionsOf(ns);
  log(`namespace ${name} is ${ns.status?.phase ?? 'Terminating'}${conditions ? `: ${conditions}` : ''}; the teardown sweep follows it`);
  return 'terminating';
}

/** The namespaces this installation owns, found by its labels. */
export async function ownedNamespaces({ api, settings }: ProvisionerContext, signal: AbortSignal): Promise<OwnedNamespace[]> {
  const list = await kubeCall(() => api.core.listNamespace({ labelSelector: instanceSelector(settings.EPHEMERA_INSTANCE) }), {
    signal,
    what: 'listing namespaces',
  });
  return list.items.map((ns) => {
    const id = Number(ns.metadata?.labels?.[LABELS.environment]);
    return {
      namespace: ns.metadata!.name!,
      environmentId: Number.isInteger(id) && id > 0 ? id : null,
      terminating: Boolean(ns.metadata?.deletionTimestamp),
      conditions: conditionsOf(ns),
    };
  });
}

export function deleteNamespace(api: KubeApi, name: string, signal: AbortSignal): Promise<void> {
  return deleteIfPresent(`deleting namespace ${name}`, () => api.core.deleteNamespace({ name }), signal);
}

/** A namespace's conditions that hold, one line (what holds up its deletion: finalizers, content left). */
function conditionsOf(ns: V1Namespace): string {
  return (ns.status?.conditions ?? [])
    .filter((c) => c.status === 'True')
    .map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`.trim())
    .join('; ');
}
