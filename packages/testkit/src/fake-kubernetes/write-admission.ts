/**
 * What a write meets between decoding and storage: the namespace lifecycle check, the built-in admission plugins
 * on creation (LimitRanger, ResourceQuota, PodSecurity), RBAC's escalation check on roles and bindings, and the
 * validating admission of the token user's requests.
 */
import { applyLimitRanges, checkClaimQuota, checkPodQuota, podSecurityMessage } from './admission.js';
import { admissionRequest, validatingAdmission, type AdmissionRequest } from './admission-hook.js';
import { authorizeRequest, rbacObjects } from './authorizer.js';
import { DEF } from './cluster-host.js';
import { clone, type Obj } from './merge.js';
import { formatFor, parseQuantity } from './quantity.js';
import { escalationRefusal, type UserInfo } from './rbac.js';
import { findKind, qualifiedResource, type ResourceDef } from './resources.js';
import type { ServerState } from './server-state.js';
import { forbidden, KubeError, namespaceNotFound } from './status.js';

const VAP = findKind('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy')!;
const VAP_BINDING = findKind('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding')!;

export interface WriteContext {
  manager: string;
  dryRun: boolean;
  warnings: string[];
  /** Set for the token user's own requests (not seeds, not the cluster's components): escalation checks and validating admission apply. */
  request?: UserRequest;
}

interface UserRequest {
  user: UserInfo;
  /** The request's namespace and the name in its URL (none for a POST): what `escalate` is asked about. */
  namespace?: string;
  name?: string;
  /** A server-side apply that creates: `create` is authorized where admission runs, as the API server does. */
  authorizeCreate?: boolean;
}

/** NamespaceLifecycle: new content needs an existing namespace that is not terminating. */
export function requireNamespace(state: ServerState, d: ResourceDef, ns: string | undefined, name: string): void {
  if (!d.namespaced || !ns) return;
  const namespace = state.store.get(DEF.namespace, undefined, ns);
  if (!namespace) throw namespaceNotFound(ns);
  if (namespace.status?.phase === 'Terminating') {
    const message = `namespace ${ns} is being terminated`;
    throw forbidden(d, name, `unable to create new content in namespace ${ns} because it is being terminated`, [
      { reason: 'NamespaceTerminating', message, field: 'metadata.namespace' },
    ]);
  }
}

/** Validating admission on creation: pod admission (limits, quota, pod security) and object-count quotas. */
export function admitCreate(state: ServerState, d: ResourceDef, obj: Obj, ctx: WriteContext): void {
  const ns = obj.metadata.namespace as string | undefined;
  if (!ns) return;
  const namespace = state.store.get(DEF.namespace, undefined, ns);
  if (d === DEF.pod) {
    const refusal = applyLimitRanges(obj, state.admission.limitRanges(ns)) ?? checkPodQuota(obj, ns, state.admission) ?? podSecurityMessage(obj.spec, namespace);
    if (refusal) throw forbidden(d, obj.metadata.name, refusal);
  }
  if (d === DEF.pvc) {
    const refusal = checkClaimQuota(obj, ns, state.admission);
    if (refusal) throw forbidden(d, obj.metadata.name, refusal);
  }
  if (d === DEF.deployment || d === DEF.replicaSet || d === DEF.statefulSet || d === DEF.job) {
    const warning = podSecurityMessage(obj.spec?.template?.spec, namespace, 'would violate');
    if (warning) ctx.warnings.push(warning);
  }
  for (const quota of state.store.all(DEF.resourceQuota, ns)) {
    for (const key of [d.resource, `count/${qualifiedResource(d)}`]) {
      const hard = parseQuantity(quota.spec?.hard?.[key]);
      if (hard === undefined || key === 'pods') continue;
      const used = state.admission.count(ns, qualifiedResource(d));
      if (used + 1 > hard) {
        throw forbidden(d, obj.metadata.name, `exceeded quota: ${quota.metadata.name}, requested: ${key}=1, used: ${key}=${formatFor(key, used)}, limited: ${key}=${quota.spec.hard[key]}`);
      }
    }
  }
}

/** RBAC's registry refuses the token user's roles and bindings that grant more than the user may (rbac mode). */
export function refuseEscalation(state: ServerState, d: ResourceDef, obj: Obj, old: Obj | undefined, ctx: WriteContext): void {
  if (!state.rbacMode || !ctx.request || d.group !== 'rbac.authorization.k8s.io') return;
  const { user, namespace = '', name = '' } = ctx.request;
  const authorize = (attrs: Parameters<typeof authorizeRequest>[1]) => authorizeRequest(state, attrs);
  const refusal = escalationRefusal({ objects: rbacObjects(state), authorize, user, resource: d.resource, obj, old, namespace, requestName: name });
  if (refusal) throw refusal;
}

/**
 * VALIDATING ADMISSION CALL SITE: every write of the token user (create, update, patch, apply, subresources,
 * delete) passes here after authorization, defaulting and validation and before it is stored; seeds and the
 * cluster's components do not. An apply that creates is authorized for `create` here first, as the API server does.
 */
export function admit(
  state: ServerState,
  d: ResourceDef,
  operation: AdmissionRequest['operation'],
  obj: Obj | undefined,
  old: Obj | undefined,
  ctx: WriteContext,
  subResource?: string,
): void {
  const request = ctx.request;
  if (!request) return;
  if (request.authorizeCreate && operation === 'CREATE') {
    const decision = authorizeRequest(state, { verb: 'create', resourceRequest: true, group: d.group, resource: d.resource, namespace: request.namespace, name: request.name });
    if (!decision.allowed) throw forbidden(d, request.name, decision.reason);
  }
  const ns = d.namespaced ? (obj ?? old)?.metadata?.namespace : undefined;
  const denial = (state.validatingAdmission ?? validatingAdmission())(
    admissionRequest({ operation, def: d, subResource, object: obj, oldObject: old, namespaceObject: ns ? state.store.get(DEF.namespace, undefined, ns) : undefined, userInfo: request.user, dryRun: ctx.dryRun }),
    { policies: state.store.all(VAP).map((o) => clone(o)), bindings: state.store.all(VAP_BINDING).map((o) => clone(o)) },
  );
  if (denial) throw new KubeError(denial.code, denial.reason, denial.message);
}
