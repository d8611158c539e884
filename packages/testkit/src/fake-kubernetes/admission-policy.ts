/**
 * ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) evaluated as the API server's
 * ValidatingAdmissionPolicy admission plugin evaluates them, so a test can show what a policy admits and refuses,
 * with the Status the API returns. Followed, in kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/admission:
 * - plugin/policy/generic/plugin.go: the resources no API-based policy sees (policies and bindings themselves, the
 *   access and token reviews of pkg/kubeapiserver/admission/exclusion); policy_source.go: a binding applies to the
 *   policy `spec.policyName` names, a policy without a binding applies to nothing.
 * - plugin/policy/validating/dispatcher.go: per policy, its matchConstraints; per binding, its matchResources; the
 *   namespace fetched for `namespaceObject` (none for a Namespace itself, "maybe a bug" says the source); each
 *   failed validation counted only under a binding whose validationActions hold Deny (Warn and Audit let the
 *   request through); the first denial becomes the error: `ValidatingAdmissionPolicy '<policy>' with binding
 *   '<binding>' denied request: <message>`, wrapped by admission.NewForbidden (`<resource>[.<group>] "<name>" is
 *   forbidden: …`), its reason the validation's (Invalid when unset) and its code reasonToCode's (Forbidden 403,
 *   Unauthorized 401, RequestEntityTooLarge 413, Invalid 422).
 * - plugin/policy/validating/validator.go: matchConditions first (any false: the policy is skipped; an error, with
 *   none false, follows failurePolicy), then every validation: an error follows failurePolicy (its message
 *   `expression '<expression>' resulted in error: <error>`), a result other than true denies with the
 *   messageExpression's string (trimmed; dropped when empty, multi-line or over 5 KiB), else `message`, else
 *   `failed expression: <expression>`; audit annotations whose valueExpression fails deny under failurePolicy Fail.
 * - plugin/policy/matching/matching.go and plugin/webhook/predicates/{namespace,object,rules}: namespaceSelector
 *   (a cluster-scoped object other than a Namespace always matches; a Namespace being created or updated is
 *   matched by its own labels, one being deleted by the stored one's), objectSelector (object or oldObject),
 *   excludeResourceRules, resourceRules (apiGroups, apiVersions, operations, resources with `*`, `res/sub`,
 *   `res/*`, `*\/*`, scope, resourceNames).
 * - plugin/cel/{activation,composition,condition}.go: the CEL variables `object` and `oldObject` (null when
 *   absent), `request` (the admission/v1 AdmissionRequest without its objects), `namespaceObject` (the namespace's
 *   metadata, spec and status; null for cluster-scoped requests) and `variables` (each evaluated on first use,
 *   in the activation of one list of expressions; a failure is `composited variable "<name>" fails to evaluate`).
 *
 * CEL is @bufbuild/cel (Buf's CEL for ECMAScript: errors as values as in cel-go, RE2 regular expressions as
 * cel-go's `matches`), with its strings extension (Kubernetes has cel-go's). Not implemented, and refused with an error (never a silent pass): `params`
 * (a policy with paramKind, a binding with paramRef), `authorizer`, and any function outside the standard
 * library and the strings extension (Kubernetes' quantity, url, ip, cidr, lists, regex, sets, … libraries), as
 * well as what the API server itself refuses to store (an expression that does not parse, an undeclared variable,
 * a reason or validation action it does not know). Not modelled: the CEL cost budgets, type checking (a type
 * error the API server would reject at creation shows here as an evaluation error), matchPolicy Equivalent (taken
 * as Exact: no other version of a resource is tried), Warn and Audit's warnings and audit annotations (they never
 * deny). The order of several denying policies is the order given (the API server's is its map's).
 */

import type { AdmissionRequest } from './admission-hook.js';
import { attributesOf, type Attributes } from './admission-policy/attributes.js';
import { celNamespaceObject, inputsOf } from './admission-policy/cel-inputs.js';
import { compileBinding, compilePolicy } from './admission-policy/compile-policy.js';
import { goQuote } from './admission-policy/go-quote.js';
import { matches } from './admission-policy/matches.js';
import { metadataOf, type Obj } from './admission-policy/objects.js';
import { validate } from './admission-policy/validate.js';

export type { AdmissionRequest };

type Status = { code: number; reason: string; message: string };

/** generic/plugin.go admissionResources: no policy from the API sees the requests on policies and bindings. */
const ADMISSION_CONFIGURATION_RESOURCES = new Set(
  ['validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings'].map((r) => `admissionregistration.k8s.io/${r}`),
);
/** pkg/kubeapiserver/admission/exclusion: reviews, never stored, that no policy may intercept. */
const EXCLUDED_RESOURCES = new Set([
  'authentication.k8s.io/selfsubjectreviews',
  'authentication.k8s.io/tokenreviews',
  'authorization.k8s.io/localsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
  'authorization.k8s.io/subjectaccessreviews',
]);

/**
 * What the ValidatingAdmissionPolicy plugin answers to `request` given the stored policies and bindings:
 * undefined when it admits the request, else the Status of the refusal. Throws for a binding, or a policy some
 * binding names, that the API server would not have stored, or that uses what this evaluator does not implement
 * (see above): never a silent pass.
 */
export function admitWithPolicies(request: AdmissionRequest, stored: { policies: Record<string, unknown>[]; bindings: Record<string, unknown>[] }): Status | undefined {
  const attrs = attributesOf(request);
  const groupResource = `${attrs.resource.group}/${attrs.resource.resource}`;
  if (EXCLUDED_RESOURCES.has(groupResource) || ADMISSION_CONFIGURATION_RESOURCES.has(groupResource)) return undefined;

  const bindings = stored.bindings.map(compileBinding);
  const denied: Denial[] = [];
  for (const policyObject of stored.policies) {
    const policyBindings = bindings.filter((b) => b.policyName === metadataOf(policyObject).name);
    if (policyBindings.length === 0) continue;
    const policy = compilePolicy(policyObject);
    // dispatcher.go drops the error DefinitionMatches returns (a namespace it could not read): the policy is skipped.
    const definition = matches(policy.matchConstraints, attrs);
    if (definition.error !== undefined || !definition.matches) continue;

    for (const binding of policyBindings) {
      if (binding.matchResources) {
        const m = matches(binding.matchResources, attrs);
        if (m.error !== undefined) {
          if (policy.failurePolicy === 'Fail') denied.push({ policy: policy.name, binding: binding.name, message: `failed to configure binding: ${m.error}` });
          continue;
        }
        if (!m.matches) continue;
      }
      // The Namespace a namespaced request is in; none for a Namespace itself.
      const isNamespaceKind = attrs.kind.group === '' && attrs.kind.version === 'v1' && attrs.kind.kind === 'Namespace';
      const namespaceName = isNamespaceKind ? '' : attrs.namespace;
      let namespaceObject: Obj | null = null;
      if (namespaceName !== '') {
        if (!request.namespaceObject) return notFound('namespaces', namespaceName);
        namespaceObject = celNamespaceObject(request.namespaceObject);
      }
      const result = validate(policy, inputsOf(request, attrs, namespaceObject));
      for (const decision of result.decisions) {
        if (decision.action !== 'deny') continue;
        for (const action of binding.validationActions) {
          if (action === 'Deny') denied.push({ policy: policy.name, binding: binding.name, message: decision.message, reason: decision.reason });
        }
      }
      for (const message of result.auditAnnotationErrors) denied.push({ policy: policy.name, binding: binding.name, message });
    }
  }

  const first = denied[0];
  if (!first) return undefined;
  const message =
    first.binding !== undefined
      ? `ValidatingAdmissionPolicy '${first.policy}' with binding '${first.binding}' denied request: ${first.message}`
      : `ValidatingAdmissionPolicy '${first.policy}' denied request: ${first.message}`;
  const reason = first.reason || 'Invalid';
  return { code: reasonToCode(reason), reason, message: forbiddenMessage(attrs, message) };
}

interface Denial {
  policy: string;
  binding?: string;
  message: string;
  reason?: string;
}

function reasonToCode(reason: string): number {
  switch (reason) {
    case 'Forbidden':
      return 403;
    case 'Unauthorized':
      return 401;
    case 'RequestEntityTooLarge':
      return 413;
    default:
      return 422;
  }
}

/** admission.NewForbidden: apierrors.NewForbidden(attr's GroupResource, the name, err).Status().Message. */
function forbiddenMessage(a: Attributes, message: string): string {
  const resource = a.resource.group === '' ? a.resource.resource : `${a.resource.resource}.${a.resource.group}`;
  const meta = metadataOf(a.object);
  let name = a.name;
  if (name === '') {
    name = 'Unknown';
    if (typeof meta.name === 'string' && meta.name !== '') name = meta.name;
    else if (typeof meta.generateName === 'string' && meta.generateName !== '') name = meta.generateName;
  }
  if (resource === '') return `forbidden: ${message}`;
  return `${resource} ${goQuote(name)} is forbidden: ${message}`;
}

/** apierrors.NewNotFound: what the dispatcher returns when the request's namespace cannot be read. */
function notFound(resource: string, name: string): Status {
  return { code: 404, reason: 'NotFound', message: `${resource} ${goQuote(name)} not found` };
}
