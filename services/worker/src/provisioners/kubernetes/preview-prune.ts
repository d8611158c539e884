import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { LogSink, ProvisionTarget } from '../provisioner.js';
import { PRUNABLE_KINDS, appliedSetOf, droppedObjects, keyOf, type AppliedSet } from './applied-set.js';
import { kubeCall } from './kube-api.js';
import { deleteIfPresent } from './preview-apply.js';
import { environmentSelector } from './preview-labels.js';
import type { ProvisionerContext } from './provisioner-context.js';

type ObjectRef = { apiVersion: string; kind: string; name: string };

/**
 * Deletes the environment's objects that the applied set no longer has (a service removed from the file): those the
 * namespace's record names, or, without a record, those a list of each kind finds by the environment's labels.
 */
export async function prune(ctx: ProvisionerContext, target: ProvisionTarget, desired: readonly KubernetesObject[], previous: AppliedSet | null, log: LogSink, signal: AbortSignal): Promise<void> {
  const { api } = ctx;
  const dropped = previous ? droppedObjects(previous, appliedSetOf(desired)) : await unrecordedLeftovers(ctx, target, desired, signal);
  // A claim goes after its StatefulSet, whose pod holds it.
  dropped.sort((a, b) => Number(a.kind === 'PersistentVolumeClaim') - Number(b.kind === 'PersistentVolumeClaim'));
  for (const { apiVersion, kind, name } of dropped) {
    await deleteIfPresent(`deleting ${kind} ${name}`, () => api.objects.delete({ apiVersion, kind, metadata: { name, namespace: target.namespace } }), signal);
    log(`removed ${kind}/${name} (no longer in the configuration)`);
  }
}

/** In a namespace without a record (an earlier version's), the environment's objects of each kind not in `desired`. */
async function unrecordedLeftovers({ api, settings }: ProvisionerContext, target: ProvisionTarget, desired: readonly KubernetesObject[], signal: AbortSignal): Promise<ObjectRef[]> {
  const keep = new Set(desired.map(keyOf));
  const selector = environmentSelector(target.environmentId, settings.EPHEMERA_INSTANCE);
  const dropped: ObjectRef[] = [];
  // Secrets are never listed (the worker may not): the copies are the ones the listed objects refer to.
  const secrets = new Set<string>();
  for (const { apiVersion, kind } of PRUNABLE_KINDS.filter((k) => k.kind !== 'Secret' && !k.recordedOnly)) {
    const list = await kubeCall(() => api.objects.list(apiVersion, kind, target.namespace, undefined, undefined, undefined, undefined, selector), {
      signal,
      what: `listing ${kind}s`,
    });
    for (const item of list.items) {
      for (const name of secretsReferredBy(item)) secrets.add(name);
      if (item.metadata?.name && !keep.has(`${kind}/${item.metadata.name}`)) dropped.push({ apiVersion, kind, name: item.metadata.name });
    }
  }
  for (const name of secrets) if (!keep.has(`Secret/${name}`)) dropped.push({ apiVersion: 'v1', kind: 'Secret', name });
  return dropped;
}

/** The Secrets an object of the preview names: a Deployment's secret_env and pull secret, an Ingress's certificate. */
function secretsReferredBy(obj: KubernetesObject): string[] {
  const spec = (obj as { spec?: Record<string, unknown> }).spec;
  if (obj.kind === 'Ingress') return ((spec?.tls ?? []) as Array<{ secretName?: string }>).flatMap((t) => (t.secretName ? [t.secretName] : []));
  if (obj.kind !== 'Deployment') return [];
  const pod = (obj as V1Deployment).spec?.template.spec;
  const names = (pod?.imagePullSecrets ?? []).map((s) => s.name);
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const e of c.env ?? []) names.push(e.valueFrom?.secretKeyRef?.name);
    for (const f of c.envFrom ?? []) names.push(f.secretRef?.name);
  }
  return names.filter((n): n is string => Boolean(n));
}
