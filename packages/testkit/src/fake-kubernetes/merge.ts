/**
 * The write algebra of the API server: JSON merge patch (RFC 7386), strategic merge patch (approximated: lists of
 * named objects merge by name), JSON patch (RFC 6902), and server-side apply's field ownership, tracked in
 * managedFields as FieldsV1 sets. A custom resource's lists follow its schema instead (ListTypes).
 */
export { applyConfiguration, ApplyConflictError, mainContent, type ApplyConflict } from './merge/apply-configuration.js';
export { clone, deepEqual, isObject, stripNulls, type Obj } from './merge/json.js';
export { jsonPatch, JsonPatchError } from './merge/json-patch.js';
export type { ListTypes } from './merge/list-types.js';
export { sameObject, type ManagedFieldsEntry } from './merge/managed-fields.js';
export { mergePatch, strategicMergePatch } from './merge/merge-patch.js';
export { trackUpdate } from './merge/track-update.js';
