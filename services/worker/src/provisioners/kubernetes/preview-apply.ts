import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import type { AppliedSet } from './applied-set.js';
import { isAlreadyExists, isNotFound, kubeCall, kubeRead, type KubeApi } from './kube-api.js';

/** The field manager of everything Ephemera applies. */
export const FIELD_MANAGER = 'ephemera';

/** Applies one object, whole, as field manager `ephemera`. */
export async function applyObject(api: KubeApi, obj: KubernetesObject, signal: AbortSignal): Promise<void> {
  await kubeCall(() => api.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply), {
    signal,
    what: `applying ${obj.kind} ${obj.metadata?.name}`,
  });
}

/** Creates an object unless it exists (409: kept as it is, never changed); true when it was created. */
export async function createOnce(what: string, create: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  return kubeCall(
    async () => {
      try {
        await create();
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    },
    { signal, what },
  );
}

/** Creates a Secret unless it exists; true when it was created. */
export function createSecretOnce(api: KubeApi, secret: V1Secret, signal: AbortSignal): Promise<boolean> {
  const create = () => api.core.createNamespacedSecret({ namespace: secret.metadata!.namespace!, body: secret, fieldManager: FIELD_MANAGER });
  return createOnce(`creating Secret ${secret.metadata!.name}`, create, signal);
}

/** Deletes an object; one already gone is deleted. */
export async function deleteIfPresent(what: string, remove: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
  await kubeCall(
    async () => {
      try {
        await remove();
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    { signal, what },
  );
}

/**
 * A readiness probe the configuration no longer has is removed first. Applying without it would drop only the
 * fields Ephemera set and leave the ones the API server defaulted (`scheme`, `timeoutSeconds`, …), a probe
 * without a port, which the server refuses. The namespace's record says which Deployments had one; without a
 * record (a namespace of an earlier version), the live Deployment is read.
 */
export async function dropRemovedProbes(api: KubeApi, desired: V1Deployment, previous: AppliedSet | null, signal: AbortSignal): Promise<void> {
  const name = desired.metadata!.name!;
  const namespace = desired.metadata!.namespace!;
  const wanted = new Map(desired.spec!.template.spec!.containers.map((c) => [c.name, c] as const));
  if (previous && (!previous.probes.includes(name) || [...wanted.values()].every((c) => c.readinessProbe))) return;
  const live = await kubeRead(() => api.apps.readNamespacedDeployment({ name, namespace }), { signal, what: `reading Deployment ${name}` });
  const dropped = (live?.spec?.template.spec?.containers ?? []).filter((c) => c.readinessProbe && !wanted.get(c.name)?.readinessProbe);
  if (dropped.length === 0) return;
  const patch = { spec: { template: { spec: { containers: dropped.map((c) => ({ name: c.name, readinessProbe: null })) } } } };
  await kubeCall(
    () =>
      api.apps.patchNamespacedDeployment(
        { name, namespace, body: patch, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    { signal, what: `removing the readiness probe of Deployment ${name}` },
  );
}
