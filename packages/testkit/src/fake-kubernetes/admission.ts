/**
 * The admission plugins a preview namespace meets when pods are created in it: LimitRanger (defaults and maxima),
 * ResourceQuota (accounting, and "must specify" when a quota tracks a resource) and PodSecurity (the namespace's
 * `pod-security.kubernetes.io/enforce` level). Pods are refused as the real plugins refuse them, so a Deployment
 * whose pods cannot exist shows FailedCreate events on its ReplicaSet.
 */
import { isObject, type Obj } from './merge.js';
import { formatFor, parseQuantity } from './quantity.js';

export interface AdmissionView {
  limitRanges(namespace: string): Obj[];
  quotas(namespace: string): Obj[];
  pods(namespace: string): Obj[];
  /** How many objects of `resource` (plural, `.group` suffixed outside core) the namespace holds, for count quotas. */
  count(namespace: string, resource: string): number;
  /** The namespace's PersistentVolumeClaims, for storage quotas. */
  claims(namespace: string): Obj[];
}

const containersOf = (pod: Obj): Obj[] => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].filter(isObject);

/** LimitRanger: fills default requests and limits of containers, refuses containers above a maximum. */
export function applyLimitRanges(pod: Obj, ranges: Obj[]): string | undefined {
  const setRequests = new Map<string, string[]>();
  const setLimits = new Map<string, string[]>();
  for (const c of containersOf(pod)) {
    c.resources ??= {};
    // Pod defaulting: a limit without a request requests the limit.
    for (const [r, q] of Object.entries(c.resources.limits ?? {})) {
      c.resources.requests ??= {};
      c.resources.requests[r] ??= q;
    }
    for (const range of ranges) {
      for (const item of range.spec?.limits ?? []) {
        if (item.type !== 'Container') continue;
        for (const [r, q] of Object.entries((item.default ?? {}) as Record<string, string>)) {
          c.resources.limits ??= {};
          if (c.resources.limits[r] === undefined) {
            c.resources.limits[r] = q;
            setLimits.set(c.name, [...(setLimits.get(c.name) ?? []), r]);
          }
        }
        for (const [r, q] of Object.entries((item.defaultRequest ?? {}) as Record<string, string>)) {
          c.resources.requests ??= {};
          if (c.resources.requests[r] === undefined) {
            c.resources.requests[r] = q;
            setRequests.set(c.name, [...(setRequests.get(c.name) ?? []), r]);
          }
        }
        for (const [r, max] of Object.entries((item.max ?? {}) as Record<string, string>)) {
          const limit = c.resources.limits?.[r];
          if (limit !== undefined && (parseQuantity(limit) ?? 0) > (parseQuantity(max) ?? Infinity)) {
            return `maximum ${r} usage per Container is ${max}, but limit is ${limit}`;
          }
        }
      }
    }
  }
  const notes: string[] = [];
  for (const [name, rs] of setRequests) notes.push(`${rs.join(', ')} request for container ${name}`);
  for (const [name, rs] of setLimits) notes.push(`${rs.join(', ')} limit for container ${name}`);
  if (notes.length > 0) {
    pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), 'kubernetes.io/limit-ranger': `LimitRanger plugin set: ${notes.join('; ')}` };
  }
  return undefined;
}

/** A pod's contribution to each quota resource it could be charged for. */
function podUsage(pod: Obj): Record<string, number> {
  const sum = (kind: 'requests' | 'limits', r: string) => containersOf(pod).reduce((n, c) => n + (parseQuantity(c.resources?.[kind]?.[r]) ?? 0), 0);
  const usage: Record<string, number> = { pods: 1, 'count/pods': 1 };
  for (const r of ['cpu', 'memory', 'ephemeral-storage']) {
    usage[`requests.${r}`] = sum('requests', r);
    usage[r] = usage[`requests.${r}`]!;
    usage[`limits.${r}`] = sum('limits', r);
  }
  return usage;
}

const terminal = (pod: Obj) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** What a quota's `status.used` says for the namespace now. */
export function quotaUsed(quota: Obj, namespace: string, view: AdmissionView): Record<string, string> {
  const used: Record<string, string> = {};
  const pods = view.pods(namespace).filter((p) => !terminal(p));
  const claims = view.claims(namespace);
  for (const resource of Object.keys(quota.spec?.hard ?? {})) {
    let value = 0;
    if (claimResource(resource)) {
      value = claims.reduce((n, c) => n + (claimUsage(c)[resource] ?? 0), 0);
    } else if (resource === 'pods' || resource.startsWith('requests.') || resource.startsWith('limits.') || ['cpu', 'memory', 'ephemeral-storage'].includes(resource)) {
      value = pods.reduce((n, p) => n + (podUsage(p)[resource] ?? 0), 0);
    } else if (resource.startsWith('count/')) {
      value = view.count(namespace, resource.slice('count/'.length));
    } else if (['services', 'secrets', 'configmaps', 'resourcequotas', 'persistentvolumeclaims'].includes(resource)) {
      value = view.count(namespace, resource);
    }
    used[resource] = formatFor(resource, value);
  }
  return used;
}

/** The quota resources a PersistentVolumeClaim is charged to (the evaluator in pkg/quota/v1/evaluator/core/persistent_volume_claims.go). */
const claimResource = (r: string) => r === 'requests.storage' || r.endsWith('.storageclass.storage.k8s.io/requests.storage') || r.endsWith('.storageclass.storage.k8s.io/persistentvolumeclaims');

function claimUsage(claim: Obj): Record<string, number> {
  const storage = parseQuantity(claim.spec?.resources?.requests?.storage) ?? 0;
  const usage: Record<string, number> = { persistentvolumeclaims: 1, 'count/persistentvolumeclaims': 1, 'requests.storage': storage };
  const cls = claim.spec?.storageClassName;
  if (cls) {
    usage[`${cls}.storageclass.storage.k8s.io/requests.storage`] = storage;
    usage[`${cls}.storageclass.storage.k8s.io/persistentvolumeclaims`] = 1;
  }
  return usage;
}

/** ResourceQuota admission of a new claim: the message after `persistentvolumeclaims "x" is forbidden: `, or undefined. */
export function checkClaimQuota(claim: Obj, namespace: string, view: AdmissionView): string | undefined {
  const usage = claimUsage(claim);
  for (const quota of view.quotas(namespace)) {
    const exceeded = exceededQuota(quota, usage, quotaUsed(quota, namespace, view), (r) =>
      r.endsWith('requests.storage') ? claim.spec.resources.requests.storage : formatFor(r, usage[r]!),
    );
    if (exceeded) return exceeded;
  }
  return undefined;
}

/**
 * The `exceeded quota: …` message when `usage` on top of what `quota` has counted goes past one of its limits, the
 * resources in order; `requested` writes a request as the object said it.
 */
function exceededQuota(quota: Obj, usage: Record<string, number>, used: Record<string, string>, requested: (r: string) => string): string | undefined {
  const hard: Record<string, string> = quota.spec?.hard ?? {};
  const over = Object.keys(hard)
    .filter((r) => r in usage)
    .filter((r) => (parseQuantity(used[r]) ?? 0) + usage[r]! > (parseQuantity(hard[r]) ?? Infinity))
    .sort();
  if (over.length === 0) return undefined;
  const list = (f: (r: string) => string) => over.map((r) => `${r}=${f(r)}`).join(',');
  return `exceeded quota: ${quota.metadata.name}, requested: ${list(requested)}, used: ${list((r) => used[r]!)}, limited: ${list((r) => hard[r]!)}`;
}

const COMPUTE = ['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'];

/** ResourceQuota admission of a new pod: the message after `pods "x" is forbidden: `, or undefined when admitted. */
export function checkPodQuota(pod: Obj, namespace: string, view: AdmissionView): string | undefined {
  const usage = podUsage(pod);
  for (const quota of view.quotas(namespace)) {
    const name = quota.metadata.name;
    const hard: Record<string, string> = quota.spec?.hard ?? {};
    const missing: string[] = [];
    for (const resource of Object.keys(hard).filter((r) => COMPUTE.includes(r)).sort()) {
      const [kind, r] = resource.includes('.') ? (resource.split('.') as ['requests' | 'limits', string]) : (['requests', resource] as const);
      const lacking = containersOf(pod).filter((c) => c.resources?.[kind]?.[r] === undefined).map((c) => c.name);
      if (lacking.length > 0) missing.push(`${resource} for: ${lacking.join(',')}`);
    }
    if (missing.length > 0) return `failed quota: ${name}: must specify ${missing.join('; ')}`;
    const exceeded = exceededQuota(quota, usage, quotaUsed(quota, namespace, view), (r) => formatFor(r, usage[r]!));
    if (exceeded) return exceeded;
  }
  return undefined;
}

const BASELINE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];

/** Pod Security Standards checks of a pod spec at `level`: the violations as the PodSecurity plugin words them. */
function podSecurityViolations(spec: Obj | undefined, level: string): string[] {
  if (!spec || (level !== 'baseline' && level !== 'restricted')) return [];
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].filter(isObject);
  const v: string[] = [];
  const names = (pred: (c: Obj) => boolean) => containers.filter(pred).map((c) => JSON.stringify(c.name));
  const plural = (list: string[]) => (list.length === 1 ? `container ${list[0]}` : `containers ${list.join(', ')}`);
  const privileged = names((c) => c.securityContext?.privileged === true);
  if (privileged.length) v.push(`privileged (${plural(privileged)} must not set securityContext.privileged=true)`);
  const hostNs = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => spec[k] === true);
  if (hostNs.length) v.push(`host namespaces (${hostNs.map((k) => `${k}=true`).join(', ')})`);
  const hostPaths = (spec.volumes ?? []).filter((vol: Obj) => isObject(vol?.hostPath)).map((vol: Obj) => JSON.stringify(vol.name));
  if (hostPaths.length) v.push(`hostPath volumes (volume${hostPaths.length > 1 ? 's' : ''} ${hostPaths.join(', ')})`);
  const hostPorts = containers.flatMap((c) => (c.ports ?? []).filter((p: Obj) => p?.hostPort).map((p: Obj) => p.hostPort as number));
  if (hostPorts.length) v.push(`hostPort (${plural(names((c) => (c.ports ?? []).some((p: Obj) => p?.hostPort)))} uses hostPort${hostPorts.length > 1 ? 's' : ''} ${hostPorts.join(', ')})`);
  for (const c of containers) {
    const added: string[] = (c.securityContext?.capabilities?.add ?? []).filter((cap: string) => !BASELINE_CAPABILITIES.includes(cap));
    if (added.length) v.push(`non-default capabilities (container ${JSON.stringify(c.name)} must not include ${added.map((a) => JSON.stringify(a)).join(', ')} in securityContext.capabilities.add)`);
  }
  const seccompUnconfined = spec.securityContext?.seccompProfile?.type === 'Unconfined' || containers.some((c) => c.securityContext?.seccompProfile?.type === 'Unconfined');
  if (seccompUnconfined) v.push('seccompProfile (pod or containers must not set securityContext.seccompProfile.type to "Unconfined")');
  if (level === 'restricted') {
    const escalation = names((c) => c.securityContext?.allowPrivilegeEscalation !== false);
    if (escalation.length) v.push(`allowPrivilegeEscalation != false (${plural(escalation)} must set securityContext.allowPrivilegeEscalation=false)`);
    const caps = names((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'));
    if (caps.length) v.push(`unrestricted capabilities (${plural(caps)} must set securityContext.capabilities.drop=["ALL"])`);
    const podNonRoot = spec.securityContext?.runAsNonRoot === true;
    const nonRoot = names((c) => !(c.securityContext?.runAsNonRoot ?? podNonRoot));
    if (nonRoot.length) v.push(`runAsNonRoot != true (pod or ${plural(nonRoot)} must set securityContext.runAsNonRoot=true)`);
    const podSeccomp = spec.securityContext?.seccompProfile?.type;
    const seccomp = names((c) => !['RuntimeDefault', 'Localhost'].includes(c.securityContext?.seccompProfile?.type ?? podSeccomp));
    if (seccomp.length) v.push(`seccompProfile (pod or ${plural(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  }
  return v;
}

/** The namespace's enforced Pod Security level and version, from its labels. */
function enforcedLevel(namespace: Obj | undefined): { level: string; version: string } | undefined {
  const labels = namespace?.metadata?.labels ?? {};
  const level = labels['pod-security.kubernetes.io/enforce'];
  if (level !== 'baseline' && level !== 'restricted') return undefined;
  return { level, version: labels['pod-security.kubernetes.io/enforce-version'] ?? 'latest' };
}

export function podSecurityMessage(spec: Obj | undefined, namespace: Obj | undefined, prefix = 'violates'): string | undefined {
  const enforced = enforcedLevel(namespace);
  if (!enforced) return undefined;
  const violations = podSecurityViolations(spec, enforced.level);
  if (violations.length === 0) return undefined;
  return `${prefix} PodSecurity "${enforced.level}:${enforced.version}": ${violations.join(', ')}`;
}
