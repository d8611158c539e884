/** Authorizer attributes from a request's URL or a SelfSubjectAccessReview, and the review's answer. */
import { isObject, type Obj } from '../merge.js';
import { invalid } from '../status.js';
import type { Attributes, Authorize } from './types.js';

/**
 * The name RequestInfo gives a list or watch: a fieldSelector requiring metadata.name to equal one valid path
 * segment makes it a request for that name (so resourceNames rules can allow it).
 */
function selectedName(fieldSelector: string | null): string | undefined {
  if (!fieldSelector) return undefined;
  for (const term of fieldSelector.split(',')) {
    const m = term.trim().match(/^metadata\.name\s*==?\s*(.*)$/);
    if (!m) continue;
    const name = m[1]!.trim();
    if (name === '.' || name === '..' || /[/%]/.test(name)) return undefined;
    return name;
  }
  return undefined;
}

/** A resource request's authorizer attributes, as RequestInfo makes them from its URL (and a list's fieldSelector). */
export function requestAttributes(
  route: { verb?: string; group: string; resource: string; sub?: string; namespace?: string; name?: string },
  fieldSelector: string | null,
): Attributes {
  const name = route.name ?? (route.verb === 'list' || route.verb === 'watch' ? selectedName(fieldSelector) : undefined);
  return { verb: route.verb ?? '', resourceRequest: true, group: route.group, resource: route.resource, subresource: route.sub, namespace: route.namespace, name };
}

/** A SelfSubjectAccessReview's spec as authorizer attributes. */
function reviewAttributes(spec: Obj | undefined): Attributes | undefined {
  const resource = isObject(spec?.resourceAttributes) ? spec.resourceAttributes : undefined;
  if (resource) {
    const str = (k: string) => (typeof resource[k] === 'string' ? (resource[k] as string) : '');
    return { verb: str('verb'), resourceRequest: true, group: str('group'), resource: str('resource'), subresource: str('subresource'), namespace: str('namespace'), name: str('name') };
  }
  const nonResource = isObject(spec?.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  if (nonResource) return { verb: String(nonResource.verb ?? ''), resourceRequest: false, path: String(nonResource.path ?? '') };
  return undefined;
}

const SSAR_KIND = { group: 'authorization.k8s.io', kind: 'SelfSubjectAccessReview' };

/**
 * What the API server answers a SelfSubjectAccessReview with (its spec validated as ValidateSelfSubjectAccessReviewSpec
 * does): the authorizer's decision, with its reason when it gave one.
 */
export function accessReviewStatus(spec: Obj, authorizeFn: Authorize): Obj {
  if (isObject(spec.resourceAttributes) && isObject(spec.nonResourceAttributes)) {
    const shown = `authorization.NonResourceAttributes{Path:${JSON.stringify(spec.nonResourceAttributes.path ?? '')}, Verb:${JSON.stringify(spec.nonResourceAttributes.verb ?? '')}}`;
    throw invalid(SSAR_KIND, '', [{ type: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', detail: `Invalid value: ${shown}: cannot be specified in combination with resourceAttributes` }]);
  }
  const attrs = reviewAttributes(spec);
  if (!attrs) {
    throw invalid(SSAR_KIND, '', [
      { type: 'FieldValueInvalid', field: 'spec.resourceAttributes', detail: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' },
    ]);
  }
  const decision = authorizeFn(attrs);
  return { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) };
}
