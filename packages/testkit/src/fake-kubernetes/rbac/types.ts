/** What RBAC evaluates: the user, the rules, the request's attributes, and the stored objects it reads. */
import { isObject, type Obj } from '../merge.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** Who is asking: what an authenticator answers for the token. */
export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
}

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface RoleRef {
  apiGroup?: string;
  kind?: string;
  name?: string;
}

export interface Subject {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}

/** authorizer.Attributes: a resource request (group, resource, subresource, namespace, name) or a non-resource path. */
export interface Attributes {
  verb: string;
  resourceRequest: boolean;
  group?: string;
  resource?: string;
  subresource?: string;
  /** '' or absent: cluster-wide, so only ClusterRoleBindings apply. */
  namespace?: string;
  name?: string;
  /** Non-resource requests only. */
  path?: string;
}

export interface Decision {
  allowed: boolean;
  /** `RBAC: allowed by ...` when allowed; `RBAC: <resolution errors>` or '' when not. */
  reason: string;
}

export type Authorize = (attrs: Attributes) => Decision;

/** The stored RBAC objects, as the authorizer's listers (and the registry's getters) see them. */
export interface RbacObjects {
  clusterRoleBindings(): Obj[];
  roleBindings(namespace: string): Obj[];
  clusterRole(name: string): Obj | undefined;
  role(namespace: string, name: string): Obj | undefined;
}

/**
 * Which getter failed to find a role: the authorizer reads listers (`clusterrole.rbac.authorization.k8s.io "x" not
 * found`), the registry's escalation checks read storage (`clusterroles.rbac.authorization.k8s.io "x" not found`).
 */
export type Getter = 'lister' | 'registry';

export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
export const rulesOf = (role: Obj | undefined): PolicyRule[] => (Array.isArray(role?.rules) ? (role.rules as unknown[]).filter(isObject) : []);
