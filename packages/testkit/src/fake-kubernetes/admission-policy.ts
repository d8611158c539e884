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
import { celEnv, celMap, isCelError, isCelList, isCelMap, parse, plan, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';

import type { AdmissionRequest } from './admission-hook.js';

export type { AdmissionRequest };

type Obj = Record<string, unknown>;
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

// ------------------------------------------------------------------------------------------------ the request

/** admission.Attributes: what the matchers read. */
interface Attributes {
  operation: AdmissionRequest['operation'];
  resource: { group: string; version: string; resource: string };
  subResource: string;
  kind: { group: string; version: string; kind: string };
  /** attr.GetName(): on CREATE, the object's name (empty while only generateName is set). */
  name: string;
  /**
   * attr.GetNamespace(): a namespaced object's namespace; for the UPDATE or DELETE of a Namespace its own name
   * (the API server reads it from /api/v1/namespaces/<name>), filled in here when the request leaves it out.
   */
  namespace: string;
  object: Obj | null;
  oldObject: Obj | null;
  /** The stored Namespace the request's namespace names, as the matchers' namespace lister returns it. */
  namespaceObject: Obj | null;
  userInfo: AdmissionRequest['userInfo'];
  dryRun: boolean;
}

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const metadataOf = (o: Obj | null): Obj => (o && isObject(o.metadata) ? o.metadata : {});
const labelsOf = (o: Obj | null): Record<string, string> => {
  const labels = metadataOf(o).labels;
  return isObject(labels) ? (labels as Record<string, string>) : {};
};
const isNamespacesResource = (r: { group: string; resource: string }) => r.group === '' && r.resource === 'namespaces';

function attributesOf(request: AdmissionRequest): Attributes {
  const resource = { group: request.group, version: request.version, resource: request.resource };
  const objectName = metadataOf(request.object).name;
  const name = request.name || (request.operation === 'CREATE' && typeof objectName === 'string' ? objectName : '');
  let namespace = request.namespace ?? '';
  if (namespace === '' && isNamespacesResource(resource) && request.operation !== 'CREATE') namespace = name;
  return {
    operation: request.operation,
    resource,
    subResource: request.subResource ?? '',
    kind: request.kind,
    name,
    namespace,
    object: request.object,
    oldObject: request.oldObject,
    namespaceObject: request.namespaceObject,
    userInfo: request.userInfo,
    dryRun: request.dryRun,
  };
}

/** cel.CreateAdmissionRequest as JSON: empty optional fields are left out, as its JSON form leaves them. */
function requestValue(a: Attributes): Obj {
  const userInfo: Obj = {};
  if (a.userInfo.username) userInfo.username = a.userInfo.username;
  if (a.userInfo.uid) userInfo.uid = a.userInfo.uid;
  if (a.userInfo.groups.length > 0) userInfo.groups = [...a.userInfo.groups];
  const optionsKind = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions' }[a.operation];
  return {
    uid: '',
    kind: { ...a.kind },
    resource: { ...a.resource },
    ...(a.subResource ? { subResource: a.subResource } : {}),
    requestKind: { ...a.kind },
    requestResource: { ...a.resource },
    ...(a.subResource ? { requestSubResource: a.subResource } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    operation: a.operation,
    userInfo,
    dryRun: a.dryRun,
    options: { apiVersion: 'meta.k8s.io/v1', kind: optionsKind, ...(a.dryRun ? { dryRun: ['All'] } : {}) },
  };
}

/** cel.CreateNamespaceObject: the namespace's metadata (less managedFields and owners), spec and status. */
function celNamespaceObject(ns: Obj): Obj {
  const meta = metadataOf(ns);
  const kept = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'finalizers'];
  const metadata = Object.fromEntries(kept.filter((k) => meta[k] !== undefined && meta[k] !== null).map((k) => [k, meta[k]]));
  return { metadata, ...(ns.spec !== undefined ? { spec: ns.spec } : {}), ...(ns.status !== undefined ? { status: ns.status } : {}) };
}

interface Inputs {
  object: CelInput;
  oldObject: CelInput;
  request: CelInput;
  namespaceObject: CelInput;
}

function inputsOf(request: AdmissionRequest, a: Attributes, namespaceObject: Obj | null): Inputs {
  return {
    object: toCel(request.object),
    oldObject: toCel(request.oldObject),
    request: toCel(requestValue(a)),
    namespaceObject: toCel(namespaceObject),
  };
}

/**
 * JSON as CEL sees a Kubernetes object: whole numbers are int (int64 in every built-in type), maps are maps.
 * Fields set to null are left out: decoding into the API's Go types drops them before admission.
 */
function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (Array.isArray(value)) return value.map(toCel);
  if (isObject(value)) {
    const map = new Map<string, CelInput>();
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) map.set(k, toCel(v));
    return map;
  }
  throw new Error(`cannot give ${typeof value} to CEL`);
}

// ------------------------------------------------------------------------------------------------ matching

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope?: string;
  resourceNames?: string[];
}

interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: Rule[];
  excludeResourceRules?: Rule[];
}

/** matching.Matcher.Matches: namespaceSelector, objectSelector, excludeResourceRules, resourceRules. */
function matches(criteria: MatchResources, a: Attributes): { matches: boolean; error?: string } {
  const ns = matchNamespaceSelector(criteria.namespaceSelector, a);
  if (!ns.matches && ns.error === undefined) return { matches: false };
  const objectMatches = matchObjectSelector(criteria.objectSelector, a);
  if (!objectMatches) return { matches: false };
  if (matchesRules(criteria.excludeResourceRules ?? [], a)) return { matches: false };
  const rules = criteria.resourceRules ?? [];
  if (rules.length > 0 && !matchesRules(rules, a)) return { matches: false };
  if (ns.error !== undefined) return { matches: false, error: ns.error };
  return { matches: true };
}

/** predicates/namespace: MatchNamespaceSelector and GetNamespaceLabels. */
function matchNamespaceSelector(selector: LabelSelector | undefined, a: Attributes): { matches: boolean; error?: string } {
  if (a.namespace === '' && a.resource.resource !== 'namespaces') return { matches: true };
  if (isEmptySelector(selector)) return { matches: true };
  let labels: Record<string, string>;
  if (a.resource.resource === 'namespaces' && a.subResource === '' && (a.operation === 'CREATE' || a.operation === 'UPDATE')) {
    labels = labelsOf(a.object);
  } else {
    // The stored Namespace: the one the request names, or, for a Namespace's own request, the stored one.
    const stored = a.namespaceObject ?? (isNamespacesResource(a.resource) ? a.oldObject : null);
    if (!stored || metadataOf(stored).name !== a.namespace) return { matches: false, error: `namespaces ${goQuote(a.namespace)} not found` };
    labels = labelsOf(stored);
  }
  return { matches: selectorMatches(selector!, labels) };
}

/** predicates/object: the selector against the object's labels or the old object's. */
function matchObjectSelector(selector: LabelSelector | undefined, a: Attributes): boolean {
  if (isEmptySelector(selector)) return true;
  const test = (o: Obj | null) => o !== null && selectorMatches(selector!, labelsOf(o));
  return test(a.object) || test(a.oldObject);
}

const isEmptySelector = (s: LabelSelector | undefined) => !s || ((s.matchLabels === undefined || Object.keys(s.matchLabels).length === 0) && (s.matchExpressions ?? []).length === 0);

/** metav1.LabelSelectorAsSelector, checked when the policy is compiled (checkSelector). */
function selectorMatches(s: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** matching.go matchesResourceRules with predicates/rules' Matcher (matchPolicy Exact). */
function matchesRules(rules: Rule[], a: Attributes): boolean {
  for (const rule of rules) {
    if (!ruleMatches(rule, a)) continue;
    const names = rule.resourceNames ?? [];
    if (names.length === 0 || names.includes(a.name)) return true;
  }
  return false;
}

function ruleMatches(rule: Rule, a: Attributes): boolean {
  const exactOrWildcard = (items: string[], requested: string) => items.some((i) => i === '*' || i === requested);
  const isNamespaceResource = a.resource.group === '' && a.resource.version === 'v1' && a.resource.resource === 'namespaces';
  const scope = rule.scope ?? '*';
  const scopeMatches =
    scope === '*' ||
    (scope === 'Namespaced' && !isNamespaceResource && a.namespace !== '') ||
    (scope === 'Cluster' && (isNamespaceResource || a.namespace === ''));
  const operationMatches = rule.operations.some((op) => op === '*' || op === a.operation);
  const resourceMatches = rule.resources.some((r) => {
    const slash = r.indexOf('/');
    const [res, sub] = slash < 0 ? [r, ''] : [r.slice(0, slash), r.slice(slash + 1)];
    return (res === '*' || res === a.resource.resource) && (sub === '*' || sub === a.subResource);
  });
  return scopeMatches && operationMatches && exactOrWildcard(rule.apiGroups, a.resource.group) && exactOrWildcard(rule.apiVersions, a.resource.version) && resourceMatches;
}

// ------------------------------------------------------------------------------------------------ validation

interface Decision {
  action: 'admit' | 'deny';
  message: string;
  reason?: string;
}

/** validator.go Validate for one binding (and no params). */
function validate(policy: CompiledPolicy, inputs: Inputs): { decisions: Decision[]; auditAnnotationErrors: string[] } {
  const onError = policy.failurePolicy === 'Ignore' ? 'admit' : 'deny';
  if (policy.matchConditions.length > 0) {
    // webhook/matchconditions/matcher.go: a false condition skips the policy even past an error.
    const activation = activationOf(inputs, policy.variables);
    const errors: string[] = [];
    for (const condition of policy.matchConditions) {
      const r = evaluate(condition.expression, activation);
      if (r.error !== undefined) errors.push(r.error);
      else if (r.value === false) return { decisions: [], auditAnnotationErrors: [] };
    }
    if (errors.length > 0) {
      if (policy.failurePolicy === 'Ignore') return { decisions: [], auditAnnotationErrors: [] };
      return { decisions: [{ action: onError, message: aggregate(errors) }], auditAnnotationErrors: [] };
    }
  }

  // Validations, then their messageExpressions, then audit annotations: one activation (and so one evaluation of
  // each variable) each, as each is a ForInput of its own filter.
  const validationActivation = activationOf(inputs, policy.variables);
  const results = policy.validations.map((v) => evaluate(v.expression, validationActivation));
  const messageActivation = activationOf(inputs, policy.variables);
  const messages = policy.validations.map((v) => (v.messageExpression ? evaluate(v.messageExpression, messageActivation) : undefined));
  const decisions = policy.validations.map((validation, i): Decision => {
    const result = results[i]!;
    if (result.error !== undefined) return { action: onError, message: result.error };
    if (result.value === true) return { action: 'admit', message: '' };
    let message = '';
    const fromExpression = messages[i];
    if (fromExpression && fromExpression.error === undefined && typeof fromExpression.value === 'string') {
      message = fromExpression.value.trim();
      if (Buffer.byteLength(message) > MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES || message.includes('\n')) message = '';
    }
    if (message === '' && validation.message) message = validation.message.trim();
    if (message === '') message = `failed expression: ${validation.expression.source.trim()}`;
    return { action: 'deny', message, reason: validation.reason ?? 'Invalid' };
  });

  const auditAnnotationErrors: string[] = [];
  const auditActivation = activationOf(inputs, policy.variables);
  for (const annotation of policy.auditAnnotations) {
    const r = evaluate(annotation.valueExpression, auditActivation);
    if (r.error !== undefined) {
      if (policy.failurePolicy === 'Fail') auditAnnotationErrors.push(r.error);
    } else if (typeof r.value !== 'string' && r.value !== null) {
      auditAnnotationErrors.push(
        `valueExpression '${annotation.valueExpression.source}' resulted in unsupported return type: ${celTypeName(r.value)}. Return type must be either string or null.`,
      );
    }
  }
  return { decisions, auditAnnotationErrors };
}

const MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES = 5 * 1024;

/** utilerrors.NewAggregate(...).Error(): one message as is, several (deduplicated) as `[a, b]`. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
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

/** Go's %q (strconv.Quote) for the names the API server quotes. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

// ------------------------------------------------------------------------------------------------ CEL

interface CompiledExpression {
  source: string;
  run: (bindings: Record<string, CelInput>) => unknown;
}

const ENV = celEnv({ funcs: strings });
/** Functions and operators evaluated here: the standard library, the strings extension, the planner's own. */
const FUNCTIONS = new Set([...[...ENV.funcs].map((f) => f.name), '_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false']);
/** The variables of a ValidatingAdmissionPolicy's expressions (without params and authorizer). */
const ROOTS = new Set(['object', 'oldObject', 'request', 'namespaceObject', 'variables']);
/** Type names CEL resolves as identifiers (`type(x) == int`). */
const TYPE_NAMES = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

type Expr = ReturnType<typeof parse>['expr'];

/**
 * Parses and checks one expression: what the API server would refuse to store (it does not parse, names an
 * undeclared variable or an unknown field of `variables`) and what this evaluator does not implement (params,
 * authorizer, functions outside the standard library and strings extension) are errors, never a silent pass.
 */
function compileExpression(source: string, where: string, variables: ReadonlySet<string>, problems: string[]): CompiledExpression {
  const failed: CompiledExpression = { source, run: () => new Error('not compiled') };
  if (typeof source !== 'string' || source.trim() === '') {
    problems.push(`${where}: Required value`);
    return failed;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    problems.push(`${where}: compilation error: ${(err as Error).message} (or CEL syntax this evaluator's parser lacks, such as optional fields)`);
    return failed;
  }
  const before = problems.length;
  checkExpr(parsed.expr, new Set(), variables, (problem) => problems.push(`${where}: ${problem}`));
  if (problems.length > before) return failed;
  const program = plan(ENV, parsed) as (bindings: Record<string, CelInput>) => unknown;
  return { source, run: program };
}

function checkExpr(expr: Expr | undefined, scope: ReadonlySet<string>, variables: ReadonlySet<string>, problem: (text: string) => void): void {
  if (!expr) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr':
      return;
    case 'identExpr': {
      const name = kind.value.name;
      if (scope.has(name) || ROOTS.has(name) || TYPE_NAMES.has(name)) return;
      if (name === 'params') problem(`undeclared reference to 'params': policies with paramKind are not supported by this evaluator`);
      else if (name === 'authorizer') problem(`'authorizer' is not supported by this evaluator`);
      else problem(`compilation error: undeclared reference to '${name}'`);
      return;
    }
    case 'selectExpr': {
      const operand = kind.value.operand;
      if (operand?.exprKind.case === 'identExpr' && operand.exprKind.value.name === 'variables' && !scope.has('variables') && !variables.has(kind.value.field)) {
        problem(`compilation error: undefined field '${kind.value.field}' (variables are declared before they are used)`);
      }
      checkExpr(operand, scope, variables, problem);
      return;
    }
    case 'callExpr': {
      const call = kind.value;
      const qualified = call.target ? qualifiedName(call.target) : undefined;
      if (qualified !== undefined && FUNCTIONS.has(`${qualified}.${call.function}`) && !scope.has(qualified.split('.')[0]!)) {
        for (const arg of call.args) checkExpr(arg, scope, variables, problem);
        return;
      }
      if (!FUNCTIONS.has(call.function)) {
        problem(`function '${call.function}' is not supported by this evaluator (CEL's standard library and strings extension only; Kubernetes' own libraries are not implemented)`);
      }
      checkExpr(call.target, scope, variables, problem);
      for (const arg of call.args) checkExpr(arg, scope, variables, problem);
      return;
    }
    case 'listExpr':
      for (const e of kind.value.elements) checkExpr(e, scope, variables, problem);
      return;
    case 'structExpr':
      if (kind.value.messageName) problem(`message construction ${kind.value.messageName}{…} is not supported by this evaluator`);
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') checkExpr(entry.keyKind.value, scope, variables, problem);
        checkExpr(entry.value, scope, variables, problem);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      checkExpr(c.iterRange, scope, variables, problem);
      checkExpr(c.accuInit, scope, variables, problem);
      const inner = new Set([...scope, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
      checkExpr(c.loopCondition, inner, variables, problem);
      checkExpr(c.loopStep, inner, variables, problem);
      checkExpr(c.result, inner, variables, problem);
      return;
    }
    default:
      problem(`expression kind ${String(kind.case)} is not supported by this evaluator`);
  }
}

function qualifiedName(expr: Expr): string | undefined {
  if (expr.exprKind.case === 'identExpr') return expr.exprKind.value.name;
  if (expr.exprKind.case === 'selectExpr' && !expr.exprKind.value.testOnly && expr.exprKind.value.operand) {
    const operand = qualifiedName(expr.exprKind.value.operand);
    return operand === undefined ? undefined : `${operand}.${expr.exprKind.value.field}`;
  }
  return undefined;
}

/** An evaluation: the value, or the error as the API server words it. */
function evaluate(expression: CompiledExpression, bindings: Record<string, CelInput>): { value?: unknown; error?: string } {
  let result: unknown;
  try {
    result = expression.run(bindings);
  } catch (err) {
    result = err;
  }
  if (isCelError(result) || result instanceof Error) return { error: `expression '${expression.source}' resulted in error: ${celErrorText(result)}` };
  return { value: result };
}

/** cel-go's wording where it differs from @bufbuild/cel's for the same error. */
function celErrorText(err: Error): string {
  const missing = /^field not found: (.*)$/s.exec(err.message);
  return missing ? `no such key: ${missing[1]}` : err.message;
}

function celTypeName(value: unknown): string {
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'double';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Uint8Array) return 'bytes';
  if (isCelList(value)) return 'list';
  if (isCelMap(value)) return 'map';
  return typeof value;
}

interface CompiledVariable {
  name: string;
  expression: CompiledExpression;
}

/** One activation: the inputs and a `variables` whose every entry is evaluated on first use, then kept. */
function activationOf(inputs: Inputs, variables: CompiledVariable[]): Record<string, CelInput> {
  const bindings: Record<string, CelInput> = { ...inputs };
  bindings.variables = celMap(new LazyVariables(variables, bindings));
  return bindings;
}

class LazyVariables implements ReadonlyMap<string, CelInput> {
  readonly #definitions: Map<string, CompiledExpression>;
  readonly #bindings: Record<string, CelInput>;
  readonly #values = new Map<string, { value: CelInput } | { error: string }>();

  constructor(variables: CompiledVariable[], bindings: Record<string, CelInput>) {
    this.#definitions = new Map(variables.map((v) => [v.name, v.expression]));
    this.#bindings = bindings;
  }

  get(name: string): CelInput | undefined {
    const definition = this.#definitions.get(name);
    if (!definition) return undefined;
    let entry = this.#values.get(name);
    if (!entry) {
      let result: unknown;
      try {
        result = definition.run(this.#bindings);
      } catch (err) {
        result = err;
      }
      entry = isCelError(result) || result instanceof Error ? { error: celErrorText(result) } : { value: result as CelInput };
      this.#values.set(name, entry);
    }
    // composition.go: the error surfaces where the variable is used.
    if ('error' in entry) throw new Error(`composited variable "${name}" fails to evaluate: ${entry.error}`);
    return entry.value;
  }

  has(name: string): boolean {
    return this.#definitions.has(name);
  }

  get size(): number {
    return this.#definitions.size;
  }

  *entries(): MapIterator<[string, CelInput]> {
    for (const name of this.#definitions.keys()) yield [name, this.get(name)!];
  }

  keys(): MapIterator<string> {
    return this.#definitions.keys();
  }

  *values(): MapIterator<CelInput> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback: (value: CelInput, key: string, map: ReadonlyMap<string, CelInput>) => void): void {
    for (const [name, value] of this.entries()) callback(value, name, this);
  }

  [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }
}

// ------------------------------------------------------------------------------------------------ compiling

interface CompiledPolicy {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  matchConstraints: MatchResources;
  matchConditions: Array<{ name: string; expression: CompiledExpression }>;
  variables: CompiledVariable[];
  validations: Array<{ expression: CompiledExpression; message?: string; messageExpression?: CompiledExpression; reason?: string }>;
  auditAnnotations: Array<{ key: string; valueExpression: CompiledExpression }>;
}

interface CompiledBinding {
  name: string;
  policyName: string;
  validationActions: string[];
  matchResources?: MatchResources;
}

const REASONS = new Set(['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge']);
const OPERATIONS = new Set(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const SELECTOR_OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const CEL_IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** Compiled once per distinct policy (by content). */
const compiledPolicies = new Map<string, CompiledPolicy>();

function compilePolicy(policy: Obj): CompiledPolicy {
  const key = JSON.stringify(policy);
  const cached = compiledPolicies.get(key);
  if (cached) return cached;
  const name = String(metadataOf(policy).name ?? '');
  const spec = isObject(policy.spec) ? policy.spec : {};
  const problems: string[] = [];
  if (policy.kind !== undefined && policy.kind !== 'ValidatingAdmissionPolicy') problems.push(`kind ${String(policy.kind)} is not ValidatingAdmissionPolicy`);
  if (!name) problems.push('metadata.name: Required value');
  if (spec.paramKind !== undefined && spec.paramKind !== null) problems.push('spec.paramKind: policies with params are not supported by this evaluator');
  const failurePolicy = spec.failurePolicy ?? 'Fail';
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore') problems.push(`spec.failurePolicy: Unsupported value: ${JSON.stringify(failurePolicy)}`);
  if (!isObject(spec.matchConstraints)) problems.push('spec.matchConstraints: Required value');
  const matchConstraints = checkMatchResources(spec.matchConstraints ?? {}, 'spec.matchConstraints', problems);

  const variableNames = new Set<string>();
  const variables: CompiledVariable[] = [];
  listOf(spec.variables, 'spec.variables', problems).forEach((v, i) => {
    const where = `spec.variables[${i}]`;
    const vName = String(v.name ?? '');
    if (!CEL_IDENTIFIER.test(vName)) problems.push(`${where}.name: Invalid value: ${JSON.stringify(vName)}: must be a CEL identifier`);
    else if (variableNames.has(vName)) problems.push(`${where}.name: Duplicate value: ${JSON.stringify(vName)}`);
    // A variable sees only the variables before it.
    const expression = compileExpression(String(v.expression ?? ''), `${where}.expression`, new Set(variableNames), problems);
    variableNames.add(vName);
    variables.push({ name: vName, expression });
  });

  const conditionNames = new Set<string>();
  const matchConditions = listOf(spec.matchConditions, 'spec.matchConditions', problems).map((c, i) => {
    const where = `spec.matchConditions[${i}]`;
    const cName = String(c.name ?? '');
    if (!cName) problems.push(`${where}.name: Required value`);
    else if (conditionNames.has(cName)) problems.push(`${where}.name: Duplicate value: ${JSON.stringify(cName)}`);
    conditionNames.add(cName);
    return { name: cName, expression: compileExpression(String(c.expression ?? ''), `${where}.expression`, variableNames, problems) };
  });

  const validations = listOf(spec.validations, 'spec.validations', problems).map((v, i) => {
    const where = `spec.validations[${i}]`;
    const reason = v.reason === undefined || v.reason === null ? undefined : String(v.reason);
    if (reason !== undefined && !REASONS.has(reason)) problems.push(`${where}.reason: Unsupported value: ${JSON.stringify(reason)}: supported values: ${[...REASONS].map((r) => JSON.stringify(r)).join(', ')}`);
    return {
      expression: compileExpression(String(v.expression ?? ''), `${where}.expression`, variableNames, problems),
      ...(typeof v.message === 'string' && v.message !== '' ? { message: v.message } : {}),
      ...(typeof v.messageExpression === 'string' && v.messageExpression !== ''
        ? { messageExpression: compileExpression(v.messageExpression, `${where}.messageExpression`, variableNames, problems) }
        : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
  });
  const auditAnnotations = listOf(spec.auditAnnotations, 'spec.auditAnnotations', problems).map((a, i) => ({
    key: String(a.key ?? ''),
    valueExpression: compileExpression(String(a.valueExpression ?? ''), `spec.auditAnnotations[${i}].valueExpression`, variableNames, problems),
  }));
  if (validations.length === 0 && auditAnnotations.length === 0) problems.push('spec.validations: Required value: validations or auditAnnotations must contain at least one item');

  if (problems.length > 0) throw new Error(`ValidatingAdmissionPolicy ${JSON.stringify(name)}: ${problems.join('; ')}`);
  const compiled: CompiledPolicy = { name, failurePolicy: failurePolicy as 'Fail' | 'Ignore', matchConstraints, matchConditions, variables, validations, auditAnnotations };
  if (compiledPolicies.size >= 256) compiledPolicies.clear();
  compiledPolicies.set(key, compiled);
  return compiled;
}

function compileBinding(binding: Obj): CompiledBinding {
  const name = String(metadataOf(binding).name ?? '');
  const spec = isObject(binding.spec) ? binding.spec : {};
  const problems: string[] = [];
  if (binding.kind !== undefined && binding.kind !== 'ValidatingAdmissionPolicyBinding') problems.push(`kind ${String(binding.kind)} is not ValidatingAdmissionPolicyBinding`);
  if (!name) problems.push('metadata.name: Required value');
  const policyName = typeof spec.policyName === 'string' ? spec.policyName : '';
  if (!policyName) problems.push('spec.policyName: Required value');
  if (spec.paramRef !== undefined && spec.paramRef !== null) problems.push('spec.paramRef: bindings with params are not supported by this evaluator');
  const actions = Array.isArray(spec.validationActions) ? spec.validationActions.map(String) : [];
  if (actions.length === 0) problems.push('spec.validationActions: Required value');
  for (const a of actions) if (!['Deny', 'Warn', 'Audit'].includes(a)) problems.push(`spec.validationActions: Unsupported value: ${JSON.stringify(a)}`);
  if (new Set(actions).size !== actions.length) problems.push('spec.validationActions: Duplicate value');
  if (actions.includes('Deny') && actions.includes('Warn')) problems.push('spec.validationActions: Invalid value: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)');
  const matchResources = spec.matchResources === undefined || spec.matchResources === null ? undefined : checkMatchResources(spec.matchResources, 'spec.matchResources', problems);
  if (problems.length > 0) throw new Error(`ValidatingAdmissionPolicyBinding ${JSON.stringify(name)}: ${problems.join('; ')}`);
  return { name, policyName, validationActions: actions, ...(matchResources ? { matchResources } : {}) };
}

function listOf(value: unknown, where: string, problems: string[]): Obj[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isObject)) {
    problems.push(`${where}: must be a list of objects`);
    return [];
  }
  return value;
}

function checkMatchResources(value: unknown, where: string, problems: string[]): MatchResources {
  if (!isObject(value)) {
    problems.push(`${where}: must be an object`);
    return {};
  }
  if (value.matchPolicy !== undefined && value.matchPolicy !== 'Exact' && value.matchPolicy !== 'Equivalent') problems.push(`${where}.matchPolicy: Unsupported value: ${JSON.stringify(value.matchPolicy)}`);
  const out: MatchResources = {};
  for (const field of ['namespaceSelector', 'objectSelector'] as const) {
    if (value[field] === undefined || value[field] === null) continue;
    out[field] = checkSelector(value[field], `${where}.${field}`, problems);
  }
  for (const field of ['resourceRules', 'excludeResourceRules'] as const) {
    out[field] = listOf(value[field], `${where}.${field}`, problems).map((r, i) => checkRule(r, `${where}.${field}[${i}]`, problems));
  }
  return out;
}

function checkSelector(value: unknown, where: string, problems: string[]): LabelSelector {
  if (!isObject(value)) {
    problems.push(`${where}: must be an object`);
    return {};
  }
  const selector = value as LabelSelector;
  for (const [i, e] of (selector.matchExpressions ?? []).entries()) {
    const values = e.values ?? [];
    if (!SELECTOR_OPERATORS.has(e.operator)) problems.push(`${where}.matchExpressions[${i}].operator: Invalid value: ${JSON.stringify(e.operator)}: not a valid selector operator`);
    else if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) problems.push(`${where}.matchExpressions[${i}].values: Required value: must be specified when \`operator\` is 'In' or 'NotIn'`);
    else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0) problems.push(`${where}.matchExpressions[${i}].values: Forbidden: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`);
  }
  return selector;
}

function checkRule(rule: Obj, where: string, problems: string[]): Rule {
  const stringList = (field: string): string[] => {
    const v = rule[field];
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
      problems.push(`${where}.${field}: Required value`);
      return [];
    }
    return v;
  };
  const out: Rule = { apiGroups: stringList('apiGroups'), apiVersions: stringList('apiVersions'), operations: stringList('operations'), resources: stringList('resources') };
  for (const op of out.operations) if (!OPERATIONS.has(op)) problems.push(`${where}.operations: Unsupported value: ${JSON.stringify(op)}`);
  // admissionregistration validation: validateRule and validateResources.
  if (out.apiGroups.length > 1 && out.apiGroups.includes('*')) problems.push(`${where}.apiGroups: Invalid value: if '*' is present, must not specify other API groups`);
  if (out.apiVersions.length > 1 && out.apiVersions.includes('*')) problems.push(`${where}.apiVersions: Invalid value: if '*' is present, must not specify other API versions`);
  if (out.operations.length > 1 && out.operations.includes('*')) problems.push(`${where}.operations: Invalid value: if '*' is present, must not specify other operations`);
  const withWildcardSubresource = new Set<string>();
  const withWildcardResource = new Set<string>();
  let resourceWithoutSubresource = false;
  out.resources.forEach((resSub, i) => {
    if (resSub === '') problems.push(`${where}.resources[${i}]: Required value`);
    const slash = resSub.indexOf('/');
    if (slash < 0) {
      resourceWithoutSubresource ||= resSub !== '*';
      return;
    }
    const [res, sub] = [resSub.slice(0, slash), resSub.slice(slash + 1)];
    if (withWildcardSubresource.has(res)) problems.push(`${where}.resources[${i}]: Invalid value: if '${res}/*' is present, must not specify ${resSub}`);
    if (withWildcardResource.has(sub)) problems.push(`${where}.resources[${i}]: Invalid value: if '*/${sub}' is present, must not specify ${resSub}`);
    if (sub === '*') withWildcardSubresource.add(res);
    if (res === '*') withWildcardResource.add(sub);
  });
  if (out.resources.length > 1 && out.resources.includes('*/*')) problems.push(`${where}.resources: Invalid value: if '*/*' is present, must not specify other resources`);
  if (out.resources.includes('*') && resourceWithoutSubresource) problems.push(`${where}.resources: Invalid value: if '*' is present, must not specify other resources without subresources`);
  if (rule.scope !== undefined) {
    if (!['*', 'Cluster', 'Namespaced'].includes(String(rule.scope))) problems.push(`${where}.scope: Unsupported value: ${JSON.stringify(rule.scope)}`);
    out.scope = String(rule.scope);
  }
  if (Array.isArray(rule.resourceNames)) out.resourceNames = rule.resourceNames.map(String);
  return out;
}
