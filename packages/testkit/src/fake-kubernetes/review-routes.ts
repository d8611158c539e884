/**
 * The authorization and authentication groups' create-only reviews: SelfSubjectAccessReview (may the token do
 * this?) and SelfSubjectReview (who is the token?).
 */
import { isForbidden, authorizeRequest, userInfo } from './authorizer.js';
import { isObject, type Obj } from './merge.js';
import { accessReviewStatus } from './rbac.js';
import { rbacSubject } from './requests.js';
import { apiVersionOf, findKind } from './resources.js';
import type { ServerState } from './server-state.js';
import { validateObject } from './validation.js';

export const SSAR = findKind('authorization.k8s.io/v1', 'SelfSubjectAccessReview')!;
export const SSR = findKind('authentication.k8s.io/v1', 'SelfSubjectReview')!;

/** SelfSubjectAccessReview: RBAC's answer in rbac mode, else allowed unless forbid() refuses. */
export function accessReview(state: ServerState, body: Obj): Obj {
  const review: Obj = { ...body, apiVersion: apiVersionOf(SSAR), kind: SSAR.kind, metadata: {} };
  validateObject(SSAR, { ...review, metadata: { name: 'review' } }, undefined, state.schemas);
  if (state.rbacMode) return { ...review, status: accessReviewStatus(isObject(review.spec) ? review.spec : {}, (attrs) => authorizeRequest(state, attrs)) };
  const attrs = review.spec?.resourceAttributes;
  let allowed = true;
  if (isObject(attrs)) {
    const resource = attrs.subresource ? `${attrs.resource ?? ''}/${attrs.subresource}` : String(attrs.resource ?? '');
    allowed = !isForbidden(state, String(attrs.verb ?? ''), String(attrs.group ?? ''), resource);
  }
  return {
    ...review,
    status: allowed ? { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "ephemera-worker" of ClusterRole "ephemera-worker" to ${rbacSubject(state.user)}` } : { allowed: false },
  };
}

/** SelfSubjectReview: who the token is. */
export function selfReview(state: ServerState, body: Obj): Obj {
  const review: Obj = { ...body, apiVersion: apiVersionOf(SSR), kind: SSR.kind, metadata: {} };
  validateObject(SSR, { ...review, metadata: { name: 'review' } }, undefined, state.schemas);
  return { ...review, status: { userInfo: userInfo(state) } };
}
