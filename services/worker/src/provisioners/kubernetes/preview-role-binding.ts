import { setTimeout as sleep } from 'node:timers/promises';
import type { RbacV1Subject, V1RoleBinding } from '@kubernetes/client-node';
import { ProvisionError } from '../provisioner.js';
import { kubeCall, type KubeApi } from './kube-api.js';
import { PREVIEW_ROLE } from './kubernetes-permissions.js';
import { createOnce, FIELD_MANAGER } from './preview-apply.js';

const SERVICE_ACCOUNT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** How RBAC names a user: a service account's username is bound as that ServiceAccount, anything else as a User. */
export function subjectOf(username: string): RbacV1Subject {
  const sa = SERVICE_ACCOUNT.exec(username);
  if (sa) return { kind: 'ServiceAccount', namespace: sa[1]!, name: sa[2]! };
  return { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: username };
}

/** The RoleBinding that gives the worker, in one preview namespace, what ClusterRole `ephemera-preview` holds. */
export function previewRoleBinding(namespace: string, labels: Record<string, string>, username: string): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: PREVIEW_ROLE, namespace, labels: { ...labels } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: PREVIEW_ROLE },
    subjects: [subjectOf(username)],
  };
}

export interface BindOptions {
  api: KubeApi;
  binding: V1RoleBinding;
  signal: AbortSignal;
  /** How long a new binding may take to reach the API server's authorizer before the apply goes on regardless. */
  settleMs: number;
  pollMs: number;
}

/**
 * Binds the worker to `ephemera-preview` in a namespace it has just applied. The binding is created, never
 * patched (the worker may only create RoleBindings, and a binding's roleRef cannot change): one that exists is
 * the worker's from an earlier deploy. RBAC reads bindings from a cache, so a new one is waited for (asking the API
 * server whether the worker may now apply a Deployment there) instead of failing the first apply with a 403.
 * Answers whether the binding was made now.
 */
export async function bindPreviewRole(o: BindOptions): Promise<boolean> {
  const namespace = o.binding.metadata!.namespace!;
  const created = await createOnce(
    `binding the worker to ClusterRole ${PREVIEW_ROLE} in namespace ${namespace}`,
    () => o.api.rbac.createNamespacedRoleBinding({ namespace, body: o.binding, fieldManager: FIELD_MANAGER }),
    o.signal,
  );
  if (!created) return false;
  const deadline = Date.now() + o.settleMs;
  for (;;) {
    const review = await kubeCall(
      () =>
        o.api.authorization.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { namespace, verb: 'patch', group: 'apps', resource: 'deployments' } },
          },
        }),
      { signal: o.signal, what: `checking the worker's access in namespace ${namespace}` },
    );
    if (review.status?.allowed) return true;
    if (Date.now() >= deadline) {
      throw new ProvisionError(
        `the RoleBinding ${PREVIEW_ROLE} in namespace ${namespace} does not give the worker access (${review.status?.reason || 'no reason given'}); check that ClusterRole ${PREVIEW_ROLE} exists as deploy/kubernetes ships it`,
        true,
      );
    }
    await sleep(o.pollMs, undefined, { signal: o.signal });
  }
}
