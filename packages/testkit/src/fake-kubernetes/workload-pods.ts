/**
 * What the StatefulSet and Job controllers share with the ReplicaSet controller's pod creation: admission as a
 * controller's pod meets it (namespace terminating, LimitRanger, ResourceQuota, PodSecurity).
 */
import { applyLimitRanges, checkPodQuota, podSecurityMessage } from './admission.js';
import type { ClusterHost } from './cluster-host.js';
import { qosClass } from './defaults.js';
import type { Obj } from './merge.js';

/** The refusal's message (after `pods "x" is forbidden: `), or undefined when the pod is admitted. */
export function admitPod(host: ClusterHost, pod: Obj): string | undefined {
  const ns = pod.metadata.namespace as string;
  const namespace = host.namespace(ns);
  if (!namespace || namespace.status?.phase === 'Terminating') return `unable to create new content in namespace ${ns} because it is being terminated`;
  const refusal = applyLimitRanges(pod, host.admission.limitRanges(ns)) ?? checkPodQuota(pod, ns, host.admission);
  if (refusal) return refusal;
  pod.status = { phase: 'Pending', qosClass: qosClass(pod.spec) };
  return podSecurityMessage(pod.spec, namespace);
}
