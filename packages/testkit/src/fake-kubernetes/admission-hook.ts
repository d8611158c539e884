/**
 * Where validating admission (ValidatingAdmissionPolicy) plugs into the fake API server. The server calls the
 * current ValidatingAdmission for every create, update (PUT, patch, apply, subresources) and delete the token user
 * makes, after authorization, defaulting and schema validation and before anything is stored; seeds and the
 * cluster's own controllers are not admitted. A denial fails the request with a Status of its code, reason and
 * message, and nothing is stored.
 *
 * No policy is evaluated here: the default admits everything. A module that evaluates the stored policies installs
 * itself with setValidatingAdmission(), or a test passes one as the `validatingAdmission` option.
 */
import { clone, isObject, type Obj } from './merge.js';

/** admission.k8s.io/v1 AdmissionRequest, as a ValidatingAdmissionPolicy's CEL sees it (request, object, oldObject, namespaceObject). */
export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  group: string;
  version: string;
  /** Plural, as in URLs: 'deployments'. */
  resource: string;
  /** 'status', 'finalize', ... when the request is for a subresource. */
  subResource?: string;
  kind: { group: string; version: string; kind: string };
  name: string;
  /** The object's namespace; a Namespace's own requests carry its name here, as the API server's do. */
  namespace?: string;
  /** The object to store (null on DELETE). */
  object: Record<string, unknown> | null;
  /** The stored object (null on CREATE). */
  oldObject: Record<string, unknown> | null;
  /** The Namespace object of a namespaced resource (null for cluster-scoped ones, Namespaces included). */
  namespaceObject: Record<string, unknown> | null;
  userInfo: { username: string; uid: string; groups: string[] };
  dryRun: boolean;
}

/** Admits (undefined) or denies a request, given the stored ValidatingAdmissionPolicies and their bindings. */
export type ValidatingAdmission = (
  request: AdmissionRequest,
  stored: { policies: Record<string, unknown>[]; bindings: Record<string, unknown>[] },
) => { code: number; reason: string; message: string } | undefined;

const admitAll: ValidatingAdmission = () => undefined;
let current: ValidatingAdmission = admitAll;

/** Installs the validating admission of every fake server not started with its own (undefined: admit everything again). */
export function setValidatingAdmission(admission: ValidatingAdmission | undefined): void {
  current = admission ?? admitAll;
}

/** The validating admission installed with setValidatingAdmission(), read at each request. */
export function validatingAdmission(): ValidatingAdmission {
  return current;
}

/** The AdmissionRequest of a write; objects are deep copies, so what the admission does to them is not stored. */
export function admissionRequest(args: {
  operation: AdmissionRequest['operation'];
  def: { group: string; version: string; resource: string; kind: string; namespaced: boolean };
  subResource?: string;
  object: Obj | undefined;
  oldObject: Obj | undefined;
  namespaceObject: Obj | undefined;
  userInfo: AdmissionRequest['userInfo'];
  dryRun: boolean;
}): AdmissionRequest {
  const { def } = args;
  const meta = (args.object ?? args.oldObject)?.metadata ?? {};
  const namespace = def.kind === 'Namespace' ? meta.name : def.namespaced ? meta.namespace : undefined;
  return {
    operation: args.operation,
    group: def.group,
    version: def.version,
    resource: def.resource,
    ...(args.subResource ? { subResource: args.subResource } : {}),
    kind: { group: def.group, version: def.version, kind: def.kind },
    name: String(meta.name ?? ''),
    ...(typeof namespace === 'string' ? { namespace } : {}),
    object: args.object ? clone(args.object) : null,
    oldObject: args.oldObject ? clone(args.oldObject) : null,
    namespaceObject: def.namespaced && args.namespaceObject ? clone(args.namespaceObject) : null,
    userInfo: { ...args.userInfo, groups: [...args.userInfo.groups] },
    dryRun: args.dryRun,
  };
}

/** SetDefaults_MatchResources and SetDefaults_Rule: what a policy's matchConstraints (a binding's matchResources) get. */
function matchResourcesDefaults(match: unknown): void {
  if (!isObject(match)) return;
  match.matchPolicy ??= 'Equivalent';
  match.namespaceSelector ??= {};
  match.objectSelector ??= {};
  for (const key of ['resourceRules', 'excludeResourceRules']) {
    for (const rule of Array.isArray(match[key]) ? match[key] : []) if (isObject(rule)) rule.scope ??= '*';
  }
}

/**
 * What the API server defaults in ValidatingAdmissionPolicies and their bindings (pkg/apis/admissionregistration/v1):
 * failurePolicy Fail, matchPolicy Equivalent, empty namespace and object selectors, rule scope `*`, and a paramRef's
 * parameterNotFoundAction Deny.
 */
export function admissionPolicyDefaults(kind: string, obj: Obj): void {
  if (kind !== 'ValidatingAdmissionPolicy' && kind !== 'ValidatingAdmissionPolicyBinding') return;
  // spec is a struct, not a pointer: it is there (and defaulted) even when the request leaves it out.
  obj.spec ??= {};
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) return;
  if (kind === 'ValidatingAdmissionPolicy') {
    spec.failurePolicy ??= 'Fail';
    matchResourcesDefaults(spec.matchConstraints);
  } else if (kind === 'ValidatingAdmissionPolicyBinding') {
    matchResourcesDefaults(spec.matchResources);
    if (isObject(spec.paramRef)) spec.paramRef.parameterNotFoundAction ??= 'Deny';
  }
}
