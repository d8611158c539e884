import type { ApplyConflict } from './merge.js';
import { qualifiedKind, qualifiedResource } from './resources.js';

interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A failure the API server answers with a `Status` body; thrown anywhere in request handling. */
export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): object {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

type Res = { group: string; resource: string };

export const notFound = (def: Res, name: string) =>
  new KubeError(404, 'NotFound', `${qualifiedResource(def)} "${name}" not found`, { name, group: def.group || undefined, kind: def.resource });

export const namespaceNotFound = (name: string) => notFound({ group: '', resource: 'namespaces' }, name);

export const alreadyExists = (def: Res, name: string, beingDeleted = false) =>
  new KubeError(409, 'AlreadyExists', `${beingDeleted ? 'object is being deleted: ' : ''}${qualifiedResource(def)} "${name}" already exists`, {
    name,
    group: def.group || undefined,
    kind: def.resource,
  });

export const conflict = (def: Res, name: string, detail = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(def)} "${name}": ${detail}`, {
    name,
    group: def.group || undefined,
    kind: def.resource,
  });

/** A field error as the API server's validation reports it: `spec.replicas: Invalid value: -1: must be ...`. */
export interface FieldError {
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueDuplicate'
    | 'FieldValueForbidden'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueTypeInvalid';
  field: string;
  /** The part after the field: "Required value", "Invalid value: \"x\": must be ...". */
  detail: string;
}

export const required = (field: string, why?: string): FieldError => ({ type: 'FieldValueRequired', field, detail: why ? `Required value: ${why}` : 'Required value' });
export const invalidValue = (field: string, value: unknown, why: string): FieldError => ({
  type: 'FieldValueInvalid',
  field,
  detail: `Invalid value: ${goValue(value)}: ${why}`,
});
export const notSupported = (field: string, value: unknown, supported: string[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field,
  detail: `Unsupported value: ${goValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});
export const duplicate = (field: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, detail: `Duplicate value: ${goValue(value)}` });
export const forbiddenField = (field: string, why: string): FieldError => ({ type: 'FieldValueForbidden', field, detail: `Forbidden: ${why}` });
export const tooLong = (field: string, max: number): FieldError => ({ type: 'FieldValueTooLong', field, detail: `Too long: may not be longer than ${max}` });
export const tooMany = (field: string, actual: number, max: number): FieldError => ({ type: 'FieldValueTooMany', field, detail: `Too many: ${actual}: must have at most ${max} items` });
export const typeInvalid = (field: string, value: unknown, why: string): FieldError => ({ type: 'FieldValueTypeInvalid', field, detail: `Invalid value: ${goValue(value)}: ${why}` });

/** A JSON pointer into `obj` (`/spec/rules/0/matches`) as the API server prints the field (`spec.rules[0].matches`), and its value. */
export function fieldPath(obj: unknown, pointer: string): { field: string; value: unknown } {
  let field = '';
  let cur: unknown = obj;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      field += `[${key}]`;
      cur = cur[Number(key)];
    } else {
      field += /[./]/.test(key) ? `[${key}]` : field ? `.${key}` : key;
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return { field, value: cur };
}

/** Values in messages are printed as Go's %#v would: strings quoted, maps as map[string]string{...}. */
export function goValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.every(([, v]) => typeof v === 'string')) {
      return `map[string]string{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`;
    }
  }
  return JSON.stringify(value);
}

export function invalid(def: { group: string; kind: string }, name: string, errors: FieldError[]): KubeError {
  const rendered = errors.map((e) => `${e.field}: ${e.detail}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new KubeError(422, 'Invalid', `${qualifiedKind(def)} "${name}" is invalid: ${summary}`, {
    name,
    group: def.group || undefined,
    kind: def.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })),
  });
}

export const badRequest = (message: string) => new KubeError(400, 'BadRequest', message);

export const methodNotAllowed = () => new KubeError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

export const notFoundPath = () => new KubeError(404, 'NotFound', 'the server could not find the requested resource', {});

export const unauthorized = () => new KubeError(401, 'Unauthorized', 'Unauthorized');

export const unsupportedMediaType = (contentType: string, accepted: string[]) =>
  new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {
    causes: [{ reason: 'UnexpectedServerResponse', message: contentType }],
  });

/** Forbidden for a reason other than RBAC (admission, namespace lifecycle, quota, pod security). */
export function forbidden(def: Res, name: string | undefined, why: string, causes?: StatusCause[]): KubeError {
  const subject = name ? `${qualifiedResource(def)} "${name}"` : qualifiedResource(def);
  return new KubeError(403, 'Forbidden', `${subject} is forbidden: ${why}`, {
    ...(name ? { name } : {}),
    group: def.group || undefined,
    kind: def.resource,
    ...(causes ? { causes } : {}),
  });
}

/** What the failNext hook answers with: the Status the API server (or its priority and fairness filter) sends. */
export function scriptedFailure(code: number): KubeError {
  switch (code) {
    case 400:
      return badRequest('the server rejected our request for an unknown reason');
    case 401:
      return unauthorized();
    case 403:
      return new KubeError(403, 'Forbidden', 'forbidden: the server does not allow access to the requested resource', {});
    case 404:
      return notFoundPath();
    case 409:
      return new KubeError(409, 'Conflict', 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again', {});
    case 410:
      return new KubeError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
    case 429:
      return new KubeError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }, { 'retry-after': '1' });
    case 500:
      return new KubeError(500, 'InternalError', 'Internal error occurred: etcdserver: request timed out', {
        causes: [{ message: 'etcdserver: request timed out' }],
      });
    case 503:
      return new KubeError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', {}, { 'retry-after': '1' });
    case 504:
      return new KubeError(504, 'Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded', {});
    default:
      return new KubeError(code, code >= 500 ? 'InternalError' : 'BadRequest', `fake-kubernetes scripted failure ${code}`);
  }
}

/** A server-side apply that would take fields other managers own with other values. */
export function applyConflict(conflicts: ApplyConflict[]): KubeError {
  const groups = new Map<string, ApplyConflict[]>();
  for (const c of conflicts) groups.set(`${c.manager}|${c.apiVersion}`, [...(groups.get(`${c.manager}|${c.apiVersion}`) ?? []), c]);
  const message =
    conflicts.length === 1
      ? `Apply failed with 1 conflict: conflict with "${conflicts[0]!.manager}" using ${conflicts[0]!.apiVersion}: ${conflicts[0]!.field}`
      : `Apply failed with ${conflicts.length} conflicts: ${[...groups.values()]
          .map((g) => `conflicts with "${g[0]!.manager}" using ${g[0]!.apiVersion}:\n${g.map((c) => `- ${c.field}`).join('\n')}`)
          .join('\n')}`;
  return new KubeError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
  });
}
