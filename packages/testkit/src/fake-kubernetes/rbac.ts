/**
 * Kubernetes RBAC as the API server evaluates it, as pure functions over the stored Roles, ClusterRoles, RoleBindings
 * and ClusterRoleBindings:
 *
 * - the authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go) and its rule resolver (pkg/registry/rbac/validation/rule.go):
 *   every ClusterRoleBinding, then the RoleBindings of the request's namespace; the first rule that allows names the
 *   binding in the reason; roles that cannot be found are resolution errors, not denials of their own;
 * - rule matching (pkg/apis/rbac/v1/evaluation_helpers.go): `*` verbs, groups and resources, `*` + `/subresource`,
 *   resourceNames that only a request naming its object can match;
 * - the registry's escalation checks (pkg/registry/rbac/escalation_check.go and the four policybased storages): a binding
 *   needs `bind` on its role (by name) or every permission the role grants; a role needs `escalate` or every
 *   permission it grants (ConfirmNoEscalation with Covers and CompactRules, and their message).
 */
export { accessReviewStatus, requestAttributes } from './rbac/access-review.js';
export { authorize, rulesFor } from './rbac/authorize.js';
export { compactString, covers } from './rbac/covers.js';
export { bindingAuthorized, confirmNoEscalation, escalationRefusal, isOnlyMutatingGCFields, type RbacWrite } from './rbac/escalation-refusal.js';
export { bootstrapPolicy, defaultGroups, rbacDefaults } from './rbac/rbac-defaults.js';
export { apiGroupMatches, nonResourceURLMatches, resourceMatches, resourceNameMatches, ruleAllows, verbMatches } from './rbac/rule-allows.js';
export { RBAC_GROUP, type Attributes, type Authorize, type Decision, type PolicyRule, type RbacObjects, type UserInfo } from './rbac/types.js';
