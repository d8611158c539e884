/**
 * PATCH on an object: JSON patch, merge patch, strategic merge patch (not for custom resources, which have no
 * strategic-merge metadata) and server-side apply with its field managers and conflicts.
 */
import { parse as parseYaml } from 'yaml';
import { isForbidden, rbacRefusal } from './authorizer.js';
import { now } from './cluster-host.js';
import { applyConfiguration, ApplyConflictError, clone, isObject, jsonPatch, JsonPatchError, mainContent, mergePatch, stripNulls, strategicMergePatch, type ManagedFieldsEntry, type Obj } from './merge.js';
import { checkIdentity, type Route } from './requests.js';
import { apiVersionOf, listTypes, type ResourceDef } from './resources.js';
import type { ServerState } from './server-state.js';
import { applyConflict, badRequest, conflict, KubeError, notFound, unsupportedMediaType } from './status.js';
import { createObject, updateObject } from './object-writes.js';
import { requireNamespace, type WriteContext } from './write-admission.js';

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const APPLY = 'application/apply-patch+yaml';

/** A PATCH request: the object's route, the body and its content type, the query. */
export interface PatchRequest {
  route: Route;
  raw: string;
  contentType: string;
  query: URLSearchParams;
}

/** PatchOptions refused: `field` may not be given (or must be) for this patch type. */
function invalidPatchOptions(field: string, reason: string, message: string): KubeError {
  return new KubeError(422, 'Invalid', `PatchOptions.meta.k8s.io "" is invalid: ${field}: ${message}`, {
    group: 'meta.k8s.io',
    kind: 'PatchOptions',
    causes: [{ reason, message, field }],
  });
}

/** The patch applied to the stored object, as the patch type reads it. */
function patched(existing: Obj, patchType: string, raw: string): { patch: unknown; result: Obj } {
  let patch: unknown;
  try {
    patch = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  try {
    if (patchType === 'application/json-patch+json') return { patch, result: jsonPatch(existing, patch) };
    if (!isObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
    return { patch, result: patchType === 'application/merge-patch+json' ? mergePatch(existing, patch) : strategicMergePatch(existing, patch) };
  } catch (err) {
    if (err instanceof JsonPatchError) {
      if (/cannot unmarshal/.test(err.message)) throw badRequest(err.message);
      throw new KubeError(422, 'Invalid', `the server rejected our request due to an error in our request: ${err.message}`, { causes: [{ message: err.message }] });
    }
    throw err;
  }
}

export function patchObject(state: ServerState, d: ResourceDef, req: PatchRequest, ctx: WriteContext, existing: Obj | undefined): [number, unknown] {
  const { route } = req;
  const patchType = req.contentType.split(';')[0]!.trim().toLowerCase();
  // Custom resources have no strategic-merge metadata: the API server does not take that patch type for them.
  const patchTypes = d.crd ? PATCH_TYPES.filter((t) => t !== 'application/strategic-merge-patch+json') : PATCH_TYPES;
  if (!patchTypes.includes(patchType)) throw unsupportedMediaType(patchType, patchTypes);
  if (patchType === APPLY) return applyObject(state, d, req, ctx, existing);
  if (req.query.get('force') !== null) throw invalidPatchOptions('force', 'FieldValueForbidden', 'Forbidden: may not be specified for non-apply patch');
  if (!existing) throw notFound(d, route.name!);
  const { patch, result } = patched(existing, patchType, req.raw);
  if (!isObject(result)) throw badRequest('the patch did not produce an object');
  const next = stripNulls(result);
  if (next.metadata?.name !== route.name) throw badRequest(`the name of the object (${next.metadata?.name ?? ''}) does not match the name on the URL (${route.name})`);
  const rv = isObject(patch) && isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
  if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(d, route.name!);
  if (next.metadata.uid !== existing.metadata.uid) throw conflict(d, route.name!, `Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${existing.metadata.uid}`);
  return [200, updateObject(state, d, existing, next, ctx, route.sub ? { sub: route.sub } : {})];
}

/** The applied configuration, decoded from YAML and checked against the URL. */
function appliedConfiguration(d: ResourceDef, route: Route, raw: string): Obj {
  let parsed: unknown;
  try {
    parsed = parseYaml(raw);
  } catch (err) {
    throw badRequest(`error decoding YAML: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw badRequest(`error decoding YAML: the applied configuration is not an object`);
  const config = stripNulls(parsed);
  checkIdentity(d, config, route, true);
  return config;
}

function applyObject(state: ServerState, d: ResourceDef, req: PatchRequest, ctx: WriteContext, existing: Obj | undefined): [number, unknown] {
  const { route } = req;
  const manager = req.query.get('fieldManager');
  if (!manager) throw invalidPatchOptions('fieldManager', 'FieldValueRequired', 'Required value: is required for apply patch');
  const config = appliedConfiguration(d, route, req.raw);
  const force = req.query.get('force') === 'true';
  const apiVersion = apiVersionOf(d);
  if (route.sub === 'status') {
    if (!existing) throw notFound(d, route.name!);
    return [200, updateObject(state, d, existing, { ...clone(existing), status: config.status }, ctx, { sub: 'status' })];
  }
  if (!existing) {
    // Creating through apply needs the create permission too (in rbac mode checked where admission runs).
    if (!state.rbacMode && isForbidden(state, 'create', d.group, d.resource)) throw rbacRefusal(state, { ...route, verb: 'create' }, 'create');
    if (state.rbacMode && ctx.request) ctx.request.authorizeCreate = true;
    requireNamespace(state, d, route.namespace, route.name!);
    const { result, managed } = applyConfiguration({ existing: undefined, config, managed: [], manager, apiVersion, force, now: now(), lists: listTypes(d) });
    return [201, createObject(state, d, result, ctx, managed)];
  }
  let outcome: { result: Obj; managed: ManagedFieldsEntry[] };
  try {
    outcome = applyConfiguration({ existing: mainContent(existing), config, managed: existing.metadata.managedFields ?? [], manager, apiVersion, force, now: now(), lists: listTypes(d) });
  } catch (err) {
    if (err instanceof ApplyConflictError) throw applyConflict(err.conflicts);
    throw err;
  }
  return [200, updateObject(state, d, existing, outcome.result, ctx, { managed: outcome.managed })];
}
