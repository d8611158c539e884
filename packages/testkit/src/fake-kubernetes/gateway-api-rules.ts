/**
 * The x-kubernetes-validations CEL rules of the Gateway API CRDs (standard channel, v1.5) that a preview's route
 * and the Gateways it names meet, transliterated rule by rule with the CRDs' own messages. Rules on filters
 * (header modifiers, CORS, redirects' and rewrites' paths), timeouts, retries, session persistence, addresses and
 * frontend TLS are not modelled. Defaults have been applied when these run, as on the API server.
 */
import { ruleError, type CrdRules } from './crd-validation.js';
import { isObject, type Obj } from './merge.js';
import { duplicate, type FieldError } from './status.js';

const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObject) : []);
const unset = (v: unknown) => v === undefined || v === '';

/** Two parentRefs to the same parent: group, kind and name equal, namespaces both unset or equal. */
const sameParent = (a: Obj, b: Obj) =>
  a.group === b.group && a.kind === b.kind && a.name === b.name && ((unset(a.namespace) && unset(b.namespace)) || (!unset(a.namespace) && a.namespace === b.namespace));
const sameSection = (a: Obj, b: Obj) => (unset(a.sectionName) && unset(b.sectionName)) || (!unset(a.sectionName) && a.sectionName === b.sectionName);

const EXACT_OR_PREFIX = "when type one of ['Exact', 'PathPrefix']";
const PATH_CHARACTERS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

/** spec.rules[].matches[].path's rules, in the CRD's order. */
function pathErrors(path: Obj, field: string, errors: FieldError[]): void {
  const type = path.type;
  const value = typeof path.value === 'string' ? path.value : '';
  const checked = type === 'Exact' || type === 'PathPrefix';
  const fail = (message: string) => errors.push(ruleError(field, 'object', message));
  if (!checked) {
    if (type !== 'RegularExpression') fail("type must be one of ['Exact', 'PathPrefix', 'RegularExpression']");
    return;
  }
  if (!value.startsWith('/')) fail(`value must be an absolute path and start with '/' ${EXACT_OR_PREFIX}`);
  for (const part of ['//', '/./', '/../', '%2f', '%2F', '#']) if (value.includes(part)) fail(`must not contain '${part}' ${EXACT_OR_PREFIX}`);
  for (const end of ['/..', '/.']) if (value.endsWith(end)) fail(`must not end with '${end}' ${EXACT_OR_PREFIX}`);
  if (!PATH_CHARACTERS.test(value)) fail(`must only contain valid characters (matching ${PATH_CHARACTERS.source}) for types ['Exact', 'PathPrefix']`);
}

/** Whether one of the rule's filters rewrites the path with replacePrefixMatch (`kind`: requestRedirect or urlRewrite). */
const replacesPrefix = (filters: Obj[], kind: 'requestRedirect' | 'urlRewrite') =>
  filters.filter((f) => isObject(f[kind]) && isObject(f[kind].path) && f[kind].path.type === 'ReplacePrefixMatch' && f[kind].path.replacePrefixMatch !== undefined).length === 1;

const httpRouteRules: CrdRules = (obj) => {
  const errors: FieldError[] = [];
  const spec = isObject(obj.spec) ? obj.spec : {};
  const parents = list(spec.parentRefs);
  if (!parents.every((p1) => parents.every((p2) => !sameParent(p1, p2) || unset(p1.sectionName) === unset(p2.sectionName)))) {
    errors.push(ruleError('spec.parentRefs', 'array', 'sectionName must be specified when parentRefs includes 2 or more references to the same parent'));
  }
  if (!parents.every((p1) => parents.filter((p2) => sameParent(p1, p2) && sameSection(p1, p2)).length === 1)) {
    errors.push(ruleError('spec.parentRefs', 'array', 'sectionName must be unique when parentRefs includes 2 or more references to the same parent'));
  }
  const rules = list(spec.rules);
  if (rules.slice(0, 16).reduce((n, r) => n + list(r.matches).length, 0) > 128) {
    errors.push(ruleError('spec.rules', 'array', 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128'));
  }
  rules.forEach((rule, i) => {
    const at = `spec.rules[${i}]`;
    const filters = list(rule.filters);
    const matches = list(rule.matches);
    const onePrefixMatch = matches.length === 1 && isObject(matches[0]!.path) && matches[0]!.path.type === 'PathPrefix';
    if (list(rule.backendRefs).length > 0 && filters.some((f) => f.requestRedirect !== undefined)) {
      errors.push(ruleError(at, 'object', 'RequestRedirect filter must not be used together with backendRefs'));
    }
    if (replacesPrefix(filters, 'requestRedirect') && !onePrefixMatch) {
      errors.push(ruleError(at, 'object', 'When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified'));
    }
    if (replacesPrefix(filters, 'urlRewrite') && !onePrefixMatch) {
      errors.push(ruleError(at, 'object', 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified'));
    }
    list(rule.backendRefs).forEach((ref, j) => {
      if (ref.group === '' && ref.kind === 'Service' && ref.port === undefined) errors.push(ruleError(`${at}.backendRefs[${j}]`, 'object', 'Must have port for Service reference'));
    });
    matches.forEach((match, k) => {
      if (isObject(match.path)) pathErrors(match.path, `${at}.matches[${k}].path`, errors);
    });
  });
  return errors;
};

const sameHostname = (a: Obj, b: Obj) => (a.hostname !== undefined && b.hostname !== undefined ? a.hostname === b.hostname : a.hostname === undefined && b.hostname === undefined);

const gatewayRules: CrdRules = (obj) => {
  const errors: FieldError[] = [];
  const listeners = list(isObject(obj.spec) ? obj.spec.listeners : undefined);
  const fail = (message: string) => errors.push(ruleError('spec.listeners', 'array', message));
  // x-kubernetes-list-type map keyed by name: the structural check that runs before the rules.
  const names = new Set<unknown>();
  listeners.forEach((l, i) => {
    if (names.has(l.name)) {
      errors.push({ ...duplicate(`spec.listeners[${i}]`, ''), detail: `Duplicate value: map[string]interface {}{"name":${JSON.stringify(l.name)}}` });
    }
    names.add(l.name);
  });
  if (!listeners.every((l) => !['HTTP', 'TCP', 'UDP'].includes(l.protocol) || l.tls === undefined)) fail("tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
  if (!listeners.every((l) => !(l.protocol === 'HTTPS' && isObject(l.tls)) || l.tls.mode === '' || l.tls.mode === 'Terminate')) fail('tls mode must be Terminate for protocol HTTPS');
  if (!listeners.every((l) => l.protocol !== 'TLS' || (isObject(l.tls) && !unset(l.tls.mode)))) fail('tls mode must be set for protocol TLS');
  if (!listeners.every((l) => !['TCP', 'UDP'].includes(l.protocol) || unset(l.hostname))) fail("hostname must not be specified for protocols ['TCP', 'UDP']");
  if (!listeners.every((l1) => listeners.filter((l2) => l1.name === l2.name).length === 1)) fail('Listener name must be unique within the Gateway');
  if (!listeners.every((l1) => listeners.filter((l2) => l1.port === l2.port && l1.protocol === l2.protocol && sameHostname(l1, l2)).length === 1)) {
    fail('Combination of port, protocol and hostname must be unique for each listener');
  }
  listeners.forEach((l, i) => {
    const tls = l.tls;
    if (isObject(tls) && tls.mode === 'Terminate' && list(tls.certificateRefs).length === 0 && !(isObject(tls.options) && Object.keys(tls.options).length > 0)) {
      errors.push(ruleError(`spec.listeners[${i}].tls`, 'object', 'certificateRefs or options must be specified when mode is Terminate'));
    }
  });
  return errors;
};

/** A transition rule: the class's controller is fixed at creation. */
const gatewayClassRules: CrdRules = (obj, old) => {
  if (!old || obj.spec?.controllerName === old.spec?.controllerName) return [];
  return [ruleError('spec.controllerName', 'string', 'Value is immutable')];
};

const RULES: Record<string, CrdRules> = { HTTPRoute: httpRouteRules, Gateway: gatewayRules, GatewayClass: gatewayClassRules };

export const gatewayApiRules = (kind: string): CrdRules | undefined => RULES[kind];
