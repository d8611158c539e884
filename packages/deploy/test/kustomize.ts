import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * A renderer of the part of kustomize (v5) that deploy/kubernetes uses, so the tests need no kustomize or kubectl
 * binary (`npm test` installs neither, and no npm package implements kustomize). It refuses any kustomization
 * field, patch directive or option outside that part rather than guess, so what it renders is what
 * `kubectl kustomize` renders for these files (compared by hand against kustomize v5.5.0).
 *
 * Implemented, in kustomize's own order within a kustomization (after its `resources` are built):
 * - `resources`: YAML files (several documents each) and directories holding a kustomization (built first);
 *   two objects with the same group, kind, namespace and name are an error, as in kustomize.
 * - `components`: directories holding a Component (`kind: Component`, `apiVersion:
 *   kustomize.config.k8s.io/v1alpha1`), applied in order after the `resources`: a component adds its own resources
 *   to the objects built so far, then its patches, namespace, labels and images apply to all of them (kustomize's
 *   shared accumulator), before the including kustomization's own. A Component listed as a resource, or a
 *   Kustomization as a component, is an error, as in kustomize.
 * - `patches`: strategic merge patches (a file or inline; several documents in a file are several patches),
 *   each applied to the object of its own kind and name, or to every object `target` selects; JSON 6902 patches
 *   (a YAML or JSON list of operations) to every object `target` selects. Target fields are anchored regular
 *   expressions, as in kustomize. Strategic merge: maps merge, `null` deletes a key, lists named below merge by
 *   their key (Kubernetes' patchMergeKey: the patch's entries first, then the others) and every other list is
 *   replaced; `$patch: delete` at the top of a patch removes the object it names (or every object `target`
 *   selects), and every other `$patch` directive is refused.
 * - `namespace`: set on every namespaced object; a Namespace object is renamed to it; in RoleBindings and
 *   ClusterRoleBindings only subjects named `default` get it (kustomize's default mode).
 * - `labels` with `pairs` only (no includeSelectors, includeTemplates): added to every object's metadata.labels.
 * - `images`: `name` matched against the image name (without tag or digest) in every `containers` and
 *   `initContainers` list; `newName`, `newTag` (which replaces a digest too) and `digest`.
 * - The output order: kustomize's legacy order (Namespace, ServiceAccount, ClusterRole, …, then by
 *   group/version/kind, then namespace, objects without one last, then name).
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'components', 'patches', 'images']);

/** Kinds kustomize treats as cluster-scoped among those a deployment like this one could hold. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'CSIDriver',
]);

/** patchMergeKey of the lists a strategic merge patch merges (k8s.io/api struct tags); other lists are replaced. */
function mergeKey(field: string, parents: readonly string[], kind: string): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ports':
      // A container's ports merge by containerPort; a Service's by port.
      if (parents.some((p) => p === 'containers' || p === 'initContainers')) return 'containerPort';
      return kind === 'Service' ? 'port' : undefined;
    default:
      return undefined;
  }
}

// kustomize's legacy output order (api/resid/gvk.go).
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

/** Builds the kustomization in `dir` as `kubectl kustomize dir` does (within the part described above). */
export function kustomizeBuild(dir: string): KubeObject[] {
  return build(path.resolve(dir)).sort(legacyOrder);
}

/**
 * Builds the kustomization in `dir`; with `accumulated`, the Component in `dir` applied to the objects an including
 * kustomization has built so far.
 */
function build(dir: string, accumulated?: KubeObject[]): KubeObject[] {
  const file = KUSTOMIZATION_FILES.map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`no kustomization in ${dir}`);
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const where = path.relative(process.cwd(), file);
  for (const field of Object.keys(k)) {
    if (!SUPPORTED_FIELDS.has(field)) throw new Error(`${where}: "${field}" is not implemented by this renderer`);
  }
  const kind = k.kind ?? 'Kustomization';
  if (kind === 'Component' && k.apiVersion !== 'kustomize.config.k8s.io/v1alpha1') throw new Error(`${where}: apiVersion for Component should be kustomize.config.k8s.io/v1alpha1`);
  if (accumulated && kind !== 'Component') throw new Error(`${where}: expected kind 'Component' for a component, got '${String(kind)}'`);
  if (!accumulated && kind === 'Component') throw new Error(`${where}: expected kind != 'Component' for a resource`);
  if (kind !== 'Kustomization' && kind !== 'Component') throw new Error(`${where}: kind ${String(kind)} is not a Kustomization`);

  let objects: KubeObject[] = accumulated ? [...accumulated] : [];
  for (const entry of list<string>(k.resources)) {
    const p = path.resolve(dir, entry);
    const loaded = statSync(p).isDirectory() ? build(p) : readObjects(p);
    for (const obj of loaded) {
      const same = objects.find((o) => idOf(o) === idOf(obj));
      if (same) throw new Error(`${where}: may not add resource with an already registered id: ${idOf(obj)}`);
      objects.push(obj);
    }
  }

  for (const entry of list<string>(k.components)) objects = build(path.resolve(dir, entry), objects);

  for (const patch of list<Record<string, unknown>>(k.patches)) objects = applyPatchEntry(objects, patch, dir, where);

  if (typeof k.namespace === 'string') for (const obj of objects) setNamespace(obj, k.namespace);

  for (const entry of list<Record<string, unknown>>(k.labels)) {
    const { pairs, ...options } = entry;
    if (Object.keys(options).some((o) => options[o] !== false)) throw new Error(`${where}: labels options ${Object.keys(options).join(', ')} are not implemented`);
    for (const obj of objects) obj.metadata.labels = { ...obj.metadata.labels, ...(pairs as Record<string, string>) };
  }

  for (const image of list<Record<string, string>>(k.images)) {
    const unknown = Object.keys(image).filter((f) => !['name', 'newName', 'newTag', 'digest'].includes(f));
    if (unknown.length > 0) throw new Error(`${where}: images field ${unknown.join(', ')} is not implemented`);
    for (const obj of objects) setImages(obj as unknown as Json, image);
  }
  return objects;
}

function list<T>(value: unknown): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`expected a list, got ${JSON.stringify(value)}`);
  return value as T[];
}

function readObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null)
    .map((o) => {
      if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new Error(`${file}: an object without apiVersion, kind or metadata.name`);
      return o;
    });
}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const versionOf = (apiVersion: string) => apiVersion.split('/').at(-1)!;
const idOf = (o: KubeObject) => `${groupOf(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function legacyOrder(a: KubeObject, b: KubeObject): number {
  const rank = (kind: string) => {
    const first = ORDER_FIRST.indexOf(kind);
    if (first >= 0) return first - ORDER_FIRST.length;
    const last = ORDER_LAST.indexOf(kind);
    return last >= 0 ? last + 1 : 0;
  };
  const gvk = (o: KubeObject) => `${groupOf(o.apiVersion) || '~G'}_${versionOf(o.apiVersion)}_${o.kind}`;
  // legacyResIDSortString: an object without a namespace sorts as "~X", after any namespace.
  const keys = (o: KubeObject) => [rank(o.kind), gvk(o), o.metadata.namespace || '~X', o.metadata.name] as const;
  const [ka, kb] = [keys(a), keys(b)];
  if (ka[0] !== kb[0]) return ka[0] - kb[0];
  for (let i = 1; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] as string) < (kb[i] as string) ? -1 : 1;
  return 0;
}

// ---------------------------------------------------------------- patches

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

function applyPatchEntry(objects: KubeObject[], entry: Record<string, unknown>, dir: string, where: string): KubeObject[] {
  const unknown = Object.keys(entry).filter((f) => !['path', 'patch', 'target'].includes(f));
  if (unknown.length > 0) throw new Error(`${where}: patch field ${unknown.join(', ')} is not implemented`);
  const text = typeof entry.path === 'string' ? readFileSync(path.resolve(dir, entry.path), 'utf8') : String(entry.patch ?? '');
  const target = entry.target as Target | undefined;
  if (target) {
    const unknownSelector = Object.keys(target).filter((f) => !['group', 'version', 'kind', 'name', 'namespace'].includes(f));
    if (unknownSelector.length > 0) throw new Error(`${where}: patch target field ${unknownSelector.join(', ')} is not implemented`);
  }
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  const describe = typeof entry.path === 'string' ? entry.path : 'inline patch';

  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (!target) throw new Error(`${where}: the JSON 6902 patch ${describe} needs a target`);
    const selected = select(objects, target);
    if (selected.length === 0) throw new Error(`${where}: no object matches the target of ${describe}`);
    return objects.map((o) => (selected.includes(o) ? (jsonPatch(o as unknown as Json, docs[0] as Json[], `${where}: ${describe}`) as unknown as KubeObject) : o));
  }

  let out = objects;
  for (const doc of docs) {
    if (doc === null) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${where}: ${describe} is neither a strategic merge patch nor a JSON 6902 patch`);
    const patch = doc as JsonObject;
    const meta = (patch.metadata ?? {}) as JsonObject;
    const selected = target
      ? select(out, target)
      : select(out, {
          group: groupOf(String(patch.apiVersion ?? '')),
          kind: String(patch.kind ?? ''),
          name: String(meta.name ?? ''),
          ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
        });
    if (target ? selected.length === 0 : selected.length !== 1) {
      throw new Error(`${where}: ${describe}: found ${selected.length} objects for ${String(patch.kind)} ${String(meta.name)} (one expected)`);
    }
    if (patch.$patch === 'delete') {
      out = out.filter((o) => !selected.includes(o));
      continue;
    }
    out = out.map((o) => {
      if (!selected.includes(o)) return o;
      // A patch applied through a target keeps the target's own identity.
      const body = target ? { ...patch, apiVersion: o.apiVersion, kind: o.kind, metadata: { ...meta, name: o.metadata.name } } : patch;
      return strategicMerge(o as unknown as Json, body, [], o.kind) as unknown as KubeObject;
    });
  }
  return out;
}

function select(objects: KubeObject[], t: Target): KubeObject[] {
  const matches = (pattern: string | undefined, value: string) => pattern === undefined || new RegExp(`^(?:${pattern})$`).test(value);
  return objects.filter(
    (o) =>
      matches(t.group, groupOf(o.apiVersion)) &&
      matches(t.version, versionOf(o.apiVersion)) &&
      matches(t.kind, o.kind) &&
      matches(t.name, o.metadata.name) &&
      matches(t.namespace, o.metadata.namespace ?? ''),
  );
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function withoutNulls(v: Json): Json {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  return v;
}

function strategicMerge(target: Json | undefined, patch: Json, parents: string[], kind: string): Json {
  if (isObject(patch)) {
    const directive = Object.keys(patch).find((k) => k.startsWith('$'));
    if (directive) throw new Error(`strategic merge directive ${directive} (at ${parents.join('.') || 'the top'}) is not implemented`);
    if (!isObject(target)) return withoutNulls(clone(patch));
    const out: JsonObject = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = strategicMerge(target[key], value, [...parents, key], kind);
    }
    return out;
  }
  if (Array.isArray(patch)) {
    const field = parents.at(-1) ?? '';
    const key = mergeKey(field, parents.slice(0, -1), kind);
    if (!key || !Array.isArray(target)) return withoutNulls(clone(patch));
    // As kustomize orders a merged list: the patch's entries first (merged into the matching ones), then the
    // entries the patch does not name, in their order.
    const merged: Json[] = [];
    const named = new Set<Json>();
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined) throw new Error(`a ${field} entry of a strategic merge patch needs its merge key ${key}`);
      const match = target.find((t) => isObject(t) && t[key] === item[key]);
      if (match !== undefined) named.add(match);
      merged.push(match === undefined ? withoutNulls(clone(item)) : strategicMerge(match, item, parents, kind));
    }
    return [...merged, ...target.filter((t) => !named.has(t))];
  }
  return patch;
}

/** RFC 6902 on a copy of `doc`. */
function jsonPatch(doc: Json, ops: Json[], where: string): Json {
  const root: { doc: Json } = { doc: clone(doc) };
  const pointer = (p: string): string[] => {
    if (p === '') return [];
    if (!p.startsWith('/')) throw new Error(`${where}: bad JSON pointer ${p}`);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (tokens: string[]): { parent: Json; key: string } => {
    let cur: Json = root.doc;
    for (const t of tokens.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
      if (next === undefined) throw new Error(`${where}: path /${tokens.join('/')} does not exist`);
      cur = next;
    }
    return { parent: cur, key: tokens.at(-1)! };
  };
  const get = (tokens: string[]): Json => {
    if (tokens.length === 0) return root.doc;
    const { parent, key } = parentOf(tokens);
    const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
    if (v === undefined) throw new Error(`${where}: path /${tokens.join('/')} does not exist`);
    return v;
  };
  const remove = (tokens: string[]): Json => {
    const value = get(tokens);
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete (parent as JsonObject)[key];
    return value;
  };
  const add = (tokens: string[], value: Json) => {
    if (tokens.length === 0) {
      root.doc = value;
      return;
    }
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`${where}: index ${key} is out of range`);
      parent.splice(index, 0, value);
    } else if (isObject(parent)) {
      parent[key] = value;
    } else {
      throw new Error(`${where}: cannot add at /${tokens.join('/')}`);
    }
  };
  for (const raw of ops) {
    if (!isObject(raw)) throw new Error(`${where}: a JSON 6902 operation must be an object`);
    const op = raw.op;
    const at = pointer(String(raw.path));
    switch (op) {
      case 'add':
        add(at, clone(raw.value as Json));
        break;
      case 'remove':
        remove(at);
        break;
      case 'replace':
        remove(at);
        add(at, clone(raw.value as Json));
        break;
      case 'move':
        add(at, remove(pointer(String(raw.from))));
        break;
      case 'copy':
        add(at, clone(get(pointer(String(raw.from)))));
        break;
      case 'test':
        if (JSON.stringify(get(at)) !== JSON.stringify(raw.value)) throw new Error(`${where}: test of ${String(raw.path)} failed`);
        break;
      default:
        throw new Error(`${where}: unknown JSON 6902 operation ${String(op)}`);
    }
  }
  return root.doc;
}

// ---------------------------------------------------------------- namespace, images

function setNamespace(obj: KubeObject, namespace: string): void {
  if (obj.kind === 'Namespace' && obj.apiVersion === 'v1') obj.metadata.name = namespace;
  if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = namespace;
  if (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') {
    for (const subject of (obj.subjects ?? []) as Array<{ name?: string; namespace?: string }>) {
      if (subject.name === 'default') subject.namespace = namespace;
    }
  }
}

/** `name[:tag][@digest]`, the tag being after the last `/`. */
function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split('@') as [string, string | undefined];
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > rest.lastIndexOf('/');
  return { name: hasTag ? rest.slice(0, colon) : rest, ...(hasTag ? { tag: rest.slice(colon + 1) } : {}), ...(digest ? { digest } : {}) };
}

function setImages(node: Json, image: Record<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) setImages(item, image);
    return;
  }
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'containers' || key === 'initContainers') && Array.isArray(value)) {
      for (const c of value) {
        if (!isObject(c) || typeof c.image !== 'string') continue;
        const current = splitImage(c.image);
        if (current.name !== image.name) continue;
        const name = image.newName ?? current.name;
        if (image.digest) c.image = `${name}@${image.digest}`;
        else if (image.newTag) c.image = `${name}:${image.newTag}`;
        else c.image = `${name}${current.tag ? `:${current.tag}` : ''}${current.digest ? `@${current.digest}` : ''}`;
      }
    }
    setImages(value, image);
  }
}
