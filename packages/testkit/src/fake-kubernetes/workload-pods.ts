/**
 * What the StatefulSet and Job controllers share with the ReplicaSet controller's pod creation: admission as a
 * controller's pod meets it (namespace terminating, LimitRanger, ResourceQuota, PodSecurity), and the pod a
 * ReplicaSet or Job makes from its template.
 */
import { applyLimitRanges, checkPodQuota, podSecurityMessage } from './admission.js';
import type { ClusterHost } from './cluster-host.js';
import { podDefaults, qosClass } from './defaults.js';
import { clone, type Obj } from './merge.js';
import { randomSuffix } from './names.js';

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

/** A pod from the workload's template, controlled by it (`apiVersion` and `kind`: the workload's). */
export function podFromTemplate(workload: Obj, apiVersion: string, kind: string): Obj {
  const template = workload.spec.template ?? {};
  const pod: Obj = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      // The API server generates the name (generateName) before admission, so refusals name the pod.
      name: `${workload.metadata.name}-${randomSuffix()}`,
      generateName: `${workload.metadata.name}-`,
      namespace: workload.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}) },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [{ apiVersion, kind, name: workload.metadata.name, uid: workload.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: clone(template.spec ?? {}),
  };
  podDefaults(pod);
  return pod;
}
