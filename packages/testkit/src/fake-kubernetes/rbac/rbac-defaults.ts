/** What the API server fills in around RBAC: a token user's groups, the bindings' defaults, the bootstrap policy. */
import { clone, isObject, type Obj } from '../merge.js';
import { RBAC_GROUP } from './types.js';

/** What the authenticator gives a token's user besides its name: a service account's groups, or just authenticated. */
export function defaultGroups(username: string): string[] {
  const sa = username.match(/^system:serviceaccount:([^:]+):[^:]+$/);
  return sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`, 'system:authenticated'] : ['system:authenticated'];
}

/** SetDefaults_RoleBinding, SetDefaults_ClusterRoleBinding, SetDefaults_Subject (pkg/apis/rbac/v1/defaults.go). */
export function rbacDefaults(kind: string, obj: Obj): void {
  if (kind !== 'RoleBinding' && kind !== 'ClusterRoleBinding') return;
  if (isObject(obj.roleRef) && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = RBAC_GROUP;
  for (const s of Array.isArray(obj.subjects) ? obj.subjects : []) {
    if (isObject(s) && !s.apiGroup && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = RBAC_GROUP;
  }
}

const BOOTSTRAP_META = { labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } };

/**
 * What the API server's bootstrap policy stores that the fake keeps: cluster-admin (bound to no one here), and
 * system:basic-user bound to every authenticated user, so anyone may ask who they are and what they may do.
 */
export function bootstrapPolicy(): Obj[] {
  return [
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin', ...clone(BOOTSTRAP_META) },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'system:basic-user', ...clone(BOOTSTRAP_META) },
      rules: [
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:basic-user', ...clone(BOOTSTRAP_META) },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'system:basic-user' },
      subjects: [{ apiGroup: RBAC_GROUP, kind: 'Group', name: 'system:authenticated' }],
    },
  ];
}
