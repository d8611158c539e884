import type { KubernetesObject, V1Deployment, V1Namespace } from '@kubernetes/client-node';

/**
 * The namespace's record of what Ephemera applied in it: `Kind/name` of every object, and the Deployments that had
 * a readiness probe. An update reads it with the namespace it reads anyway, so pruning what a new configuration
 * dropped costs no list of each kind, and a probe removed from the file is found without reading each Deployment.
 */
export const APPLIED_ANNOTATION = 'ephemera.dev/applied';

export interface AppliedSet {
  objects: string[];
  probes: string[];
}

/** The record of a live namespace; null when it has none (made by an earlier version: then everything is listed). */
export function readAppliedSet(ns: V1Namespace | null): AppliedSet | null {
  const text = ns?.metadata?.annotations?.[APPLIED_ANNOTATION];
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<AppliedSet>;
    if (!Array.isArray(value.objects) || !Array.isArray(value.probes)) return null;
    return { objects: value.objects.filter((o) => typeof o === 'string'), probes: value.probes.filter((p) => typeof p === 'string') };
  } catch {
    return null;
  }
}

/** What a namespace that did not exist holds. */
export const EMPTY_SET: AppliedSet = { objects: [], probes: [] };

export const keyOf = (o: KubernetesObject) => `${o.kind}/${o.metadata?.name}`;

/** What a set of objects to apply amounts to. */
export function appliedSetOf(objects: readonly KubernetesObject[]): AppliedSet {
  return {
    objects: objects.map(keyOf).sort(),
    probes: objects
      .filter((o) => o.kind === 'Deployment' && (o as V1Deployment).spec?.template.spec?.containers.some((c) => c.readinessProbe))
      .map((o) => o.metadata!.name!)
      .sort(),
  };
}

/** Both records at once: what the namespace says while an update is under way, so a crash meanwhile forgets nothing. */
export function unionOf(a: AppliedSet, b: AppliedSet | null): AppliedSet {
  if (!b) return a;
  return { objects: [...new Set([...a.objects, ...b.objects])].sort(), probes: [...new Set([...a.probes, ...b.probes])].sort() };
}

export function sameSet(a: AppliedSet, b: AppliedSet | null): boolean {
  return b !== null && JSON.stringify(a) === JSON.stringify(b);
}

/** The namespace object carrying the record. */
export function withAppliedSet(ns: KubernetesObject, set: AppliedSet): KubernetesObject {
  return { ...ns, metadata: { ...ns.metadata, annotations: { ...(ns.metadata?.annotations ?? {}), [APPLIED_ANNOTATION]: JSON.stringify(set) } } };
}

/** An object of the record, by its key, that the new set no longer has: `{ apiVersion, kind, name }` to delete. */
export function droppedObjects(previous: AppliedSet, next: AppliedSet): Array<{ apiVersion: string; kind: string; name: string }> {
  const keep = new Set(next.objects);
  return previous.objects
    .filter((key) => !keep.has(key))
    .flatMap((key) => {
      const [kind, name] = key.split('/') as [string, string];
      const known = PRUNABLE_KINDS.find((k) => k.kind === kind);
      return known && name ? [{ apiVersion: known.apiVersion, kind, name }] : [];
    });
}

/**
 * The kinds an environment's objects come in inside its namespace, for pruning what a new configuration dropped.
 * `recordedOnly`: pruned by the namespace's record alone, never listed for a namespace without one (those predate
 * the kind, and a cluster without the Gateway API answers a list of HTTPRoutes with 404).
 */
export const PRUNABLE_KINDS: ReadonlyArray<{ apiVersion: string; kind: string; recordedOnly?: true }> = [
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', recordedOnly: true },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'ResourceQuota' },
  { apiVersion: 'v1', kind: 'LimitRange' },
];
