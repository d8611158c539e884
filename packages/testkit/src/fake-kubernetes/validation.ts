import { customResourceErrors } from './crd-validation.js';
import { gatewayApiRules } from './gateway-api-rules.js';
import { loadGatewayApiValidators } from './gateway-api-schema.js';
import { isObject, deepEqual, type Obj } from './merge.js';
import {
  configKeyErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  envVarNameErrors,
  labelKeyErrors,
  labelValueErrors,
} from './names.js';
import { parseQuantity, QUANTITY_PATTERN } from './quantity.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { schemaViolations } from './schema-violations.js';
import { matchesSelectorObject } from './selectors.js';
import {
  badRequest,
  duplicate,
  fieldPath,
  forbiddenField,
  goValue,
  invalid,
  invalidValue,
  notSupported,
  required,
  type FieldError,
} from './status.js';

type SchemaValidator = (obj: Obj) => void;

/**
 * The OpenAPI schemas of every kind served, from kubernetes-models (compiled ajv validators), and of the Gateway API
 * kinds when the server serves them. Loaded on first start so importing the testkit stays cheap for suites that
 * never start a fake cluster.
 */
export async function loadSchemaValidators(options: { gatewayApi?: boolean } = {}): Promise<Map<string, SchemaValidator>> {
  // One at a time: Jest's ESM loader fails ("not in cache") when imports sharing modules run concurrently.
  const ns = await import('kubernetes-models/v1/Namespace');
  const pod = await import('kubernetes-models/v1/Pod');
  const svc = await import('kubernetes-models/v1/Service');
  const secret = await import('kubernetes-models/v1/Secret');
  const cm = await import('kubernetes-models/v1/ConfigMap');
  const ev = await import('kubernetes-models/v1/Event');
  const quota = await import('kubernetes-models/v1/ResourceQuota');
  const limits = await import('kubernetes-models/v1/LimitRange');
  const sa = await import('kubernetes-models/v1/ServiceAccount');
  const deploy = await import('kubernetes-models/apps/v1/Deployment');
  const rs = await import('kubernetes-models/apps/v1/ReplicaSet');
  const ing = await import('kubernetes-models/networking.k8s.io/v1/Ingress');
  const netpol = await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy');
  const ssar = await import('kubernetes-models/authorization.k8s.io/v1/SelfSubjectAccessReview');
  const ssr = await import('kubernetes-models/authentication.k8s.io/v1/SelfSubjectReview');
  const clusterRole = await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole');
  const clusterRoleBinding = await import('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding');
  const role = await import('kubernetes-models/rbac.authorization.k8s.io/v1/Role');
  const roleBinding = await import('kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding');
  const vap = await import('kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy');
  const vapb = await import('kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding');
  const pvc = await import('kubernetes-models/v1/PersistentVolumeClaim');
  const sts = await import('kubernetes-models/apps/v1/StatefulSet');
  const rev = await import('kubernetes-models/apps/v1/ControllerRevision');
  const job = await import('kubernetes-models/batch/v1/Job');
  const sc = await import('kubernetes-models/storage.k8s.io/v1/StorageClass');
  const crds = options.gatewayApi ? await loadGatewayApiValidators() : [];
  return new Map<string, SchemaValidator>([
    ...crds,
    ['v1/Namespace', (o) => new ns.Namespace(o as never).validate()],
    ['v1/Pod', (o) => new pod.Pod(o as never).validate()],
    ['v1/Service', (o) => new svc.Service(o as never).validate()],
    ['v1/Secret', (o) => new secret.Secret(o as never).validate()],
    ['v1/ConfigMap', (o) => new cm.ConfigMap(o as never).validate()],
    ['v1/Event', (o) => new ev.Event(o as never).validate()],
    ['v1/ResourceQuota', (o) => new quota.ResourceQuota(o as never).validate()],
    ['v1/LimitRange', (o) => new limits.LimitRange(o as never).validate()],
    ['v1/ServiceAccount', (o) => new sa.ServiceAccount(o as never).validate()],
    ['apps/v1/Deployment', (o) => new deploy.Deployment(o as never).validate()],
    ['apps/v1/ReplicaSet', (o) => new rs.ReplicaSet(o as never).validate()],
    ['networking.k8s.io/v1/Ingress', (o) => new ing.Ingress(o as never).validate()],
    ['networking.k8s.io/v1/NetworkPolicy', (o) => new netpol.NetworkPolicy(o as never).validate()],
    ['authorization.k8s.io/v1/SelfSubjectAccessReview', (o) => new ssar.SelfSubjectAccessReview(o as never).validate()],
    ['authentication.k8s.io/v1/SelfSubjectReview', (o) => new ssr.SelfSubjectReview(o as never).validate()],
    ['rbac.authorization.k8s.io/v1/ClusterRole', (o) => new clusterRole.ClusterRole(o as never).validate()],
    ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', (o) => new clusterRoleBinding.ClusterRoleBinding(o as never).validate()],
    ['rbac.authorization.k8s.io/v1/Role', (o) => new role.Role(o as never).validate()],
    ['rbac.authorization.k8s.io/v1/RoleBinding', (o) => new roleBinding.RoleBinding(o as never).validate()],
    ['admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy', (o) => new vap.ValidatingAdmissionPolicy(o as never).validate()],
    ['admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding', (o) => new vapb.ValidatingAdmissionPolicyBinding(o as never).validate()],
    ['v1/PersistentVolumeClaim', (o) => new pvc.PersistentVolumeClaim(o as never).validate()],
    ['apps/v1/StatefulSet', (o) => new sts.StatefulSet(o as never).validate()],
    ['apps/v1/ControllerRevision', (o) => new rev.ControllerRevision(o as never).validate()],
    ['batch/v1/Job', (o) => new job.Job(o as never).validate()],
    ['storage.k8s.io/v1/StorageClass', (o) => new sc.StorageClass(o as never).validate()],
  ]);
}

function schemaErrors(validate: SchemaValidator, obj: Obj): FieldError[] {
  return schemaViolations(validate, obj, (e) => {
    const { field, value } = fieldPath(obj, e.instancePath);
    if (e.keyword === 'required') return required(`${field ? `${field}.` : ''}${String(e.params.missingProperty)}`);
    if (e.keyword === 'enum') return notSupported(field, value, (e.params.allowedValues as unknown[]).map(String));
    if (e.keyword === 'type') return invalidValue(field, value, `${field} in body must be of type ${String(e.params.type)}: ${JSON.stringify(typeof value)}`);
    return invalidValue(field, value, e.message ?? e.keyword);
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Secret data is []byte in Go: bad base64 fails decoding, a 400 before validation runs. */
export function checkBase64Data(def: ResourceDef, obj: Obj): void {
  if (def.kind !== 'Secret' || !isObject(obj.data)) return;
  for (const value of Object.values(obj.data)) {
    if (typeof value !== 'string') continue;
    if (BASE64.test(value) && value.length % 4 === 0) continue;
    let at = [...value].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
    if (at < 0) at = value.length - (value.length % 4);
    throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at}`);
  }
}

function metaErrors(def: ResourceDef, obj: Obj, errors: FieldError[]): void {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') errors.push(required('metadata.name', 'name or generateName is required'));
  else {
    const check = def.kind === 'Namespace' ? dns1123LabelErrors : def.kind === 'Service' ? dns1035LabelErrors : RBAC_KINDS.includes(def.kind) ? pathSegmentErrors : dns1123SubdomainErrors;
    for (const e of check(name)) errors.push(invalidValue('metadata.name', name, e));
  }
  labelErrors(meta.labels, 'metadata.labels', errors);
  if (isObject(meta.annotations)) {
    let size = 0;
    for (const [k, v] of Object.entries(meta.annotations)) {
      for (const e of labelKeyErrors(k)) errors.push(invalidValue('metadata.annotations', k, e));
      size += k.length + String(v).length;
    }
    if (size > 256 * 1024) errors.push({ type: 'FieldValueTooLong', field: 'metadata.annotations', detail: 'Too long: must have at most 262144 bytes' });
  }
}

function labelErrors(labels: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    for (const e of labelKeyErrors(k)) errors.push(invalidValue(field, k, e));
    if (typeof v === 'string') for (const e of labelValueErrors(v)) errors.push(invalidValue(field, v, e));
  }
}

function portNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 15) errors.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(name)) errors.push('must contain at least one letter (a-z)');
  if (name.startsWith('-') || name.endsWith('-')) errors.push('must not begin or end with a hyphen');
  if (name.includes('--')) errors.push('must not contain consecutive hyphens');
  return errors;
}

const portRange = (field: string, port: unknown, errors: FieldError[]) => {
  if (typeof port === 'number' && (port < 1 || port > 65535 || !Number.isInteger(port))) errors.push(invalidValue(field, port, 'must be between 1 and 65535, inclusive'));
};

function resourceErrors(resources: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(resources)) return;
  for (const kind of ['limits', 'requests'] as const) {
    const amounts = resources[kind];
    if (!isObject(amounts)) continue;
    for (const [name, q] of Object.entries(amounts)) {
      if (parseQuantity(q) === undefined) errors.push(invalidValue(`${field}.${kind}[${name}]`, q, `quantities must match the regular expression '${QUANTITY_PATTERN}'`));
    }
  }
  if (isObject(resources.requests) && isObject(resources.limits)) {
    for (const [name, q] of Object.entries(resources.requests)) {
      const limit = parseQuantity(resources.limits[name]);
      const request = parseQuantity(q);
      if (limit !== undefined && request !== undefined && request > limit) {
        errors.push(invalidValue(`${field}.requests`, q, `must be less than or equal to ${name} limit of ${String(resources.limits[name])}`));
      }
    }
  }
}

/** `claimTemplates`: a StatefulSet's volumeClaimTemplates names, which its pods' containers may mount. */
function podSpecErrors(spec: unknown, field: string, errors: FieldError[], template: boolean, claimTemplates: string[] = []): void {
  if (!isObject(spec)) return;
  const volumes = new Set<string>(claimTemplates);
  (Array.isArray(spec.volumes) ? spec.volumes : []).forEach((v: Obj, i: number) => {
    if (typeof v?.name !== 'string') return;
    if (volumes.has(v.name)) errors.push(duplicate(`${field}.volumes[${i}].name`, v.name));
    for (const e of dns1123LabelErrors(v.name)) errors.push(invalidValue(`${field}.volumes[${i}].name`, v.name, e));
    volumes.add(v.name);
  });
  const names = new Set<string>();
  const checkContainers = (list: unknown, key: string, mustHave: boolean) => {
    if (!Array.isArray(list) || list.length === 0) {
      if (mustHave) errors.push(required(`${field}.${key}`));
      return;
    }
    list.forEach((c: unknown, i: number) => {
      const at = `${field}.${key}[${i}]`;
      if (!isObject(c)) return;
      if (typeof c.name !== 'string' || c.name === '') errors.push(required(`${at}.name`));
      else {
        for (const e of dns1123LabelErrors(c.name)) errors.push(invalidValue(`${at}.name`, c.name, e));
        if (names.has(c.name)) errors.push(duplicate(`${at}.name`, c.name));
        names.add(c.name);
      }
      if (typeof c.image !== 'string' || c.image.trim() === '') errors.push(required(`${at}.image`));
      const portNames = new Set<string>();
      (Array.isArray(c.ports) ? c.ports : []).forEach((p: Obj, j: number) => {
        if (!isObject(p)) return;
        portRange(`${at}.ports[${j}].containerPort`, p.containerPort, errors);
        if (p.hostPort !== undefined) portRange(`${at}.ports[${j}].hostPort`, p.hostPort, errors);
        if (typeof p.name === 'string') {
          for (const e of portNameErrors(p.name)) errors.push(invalidValue(`${at}.ports[${j}].name`, p.name, e));
          if (portNames.has(p.name)) errors.push(duplicate(`${at}.ports[${j}].name`, p.name));
          portNames.add(p.name);
        }
      });
      (Array.isArray(c.env) ? c.env : []).forEach((e: Obj, j: number) => {
        if (!isObject(e)) return;
        if (typeof e.name !== 'string' || e.name === '') errors.push(required(`${at}.env[${j}].name`));
        else for (const msg of envVarNameErrors(e.name)) errors.push(invalidValue(`${at}.env[${j}].name`, e.name, msg));
        if (e.value !== undefined && e.valueFrom !== undefined) {
          errors.push(invalidValue(`${at}.env[${j}].valueFrom`, '', 'may not be specified when `value` is not empty'));
        }
        const ref = isObject(e.valueFrom) ? (e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef) : undefined;
        if (isObject(ref)) {
          const refKind = e.valueFrom.secretKeyRef ? 'secretKeyRef' : 'configMapKeyRef';
          if (typeof ref.key !== 'string' || ref.key === '') errors.push(required(`${at}.env[${j}].valueFrom.${refKind}.key`));
          if (typeof ref.name !== 'string' || ref.name === '') errors.push(required(`${at}.env[${j}].valueFrom.${refKind}.name`));
        }
      });
      (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).forEach((m: Obj, j: number) => {
        if (isObject(m) && typeof m.name === 'string' && !volumes.has(m.name)) {
          errors.push({ type: 'FieldValueInvalid', field: `${at}.volumeMounts[${j}].name`, detail: `Not found: ${goValue(m.name)}` });
        }
      });
      resourceErrors(c.resources, `${at}.resources`, errors);
    });
  };
  checkContainers(spec.initContainers, 'initContainers', false);
  checkContainers(spec.containers, 'containers', true);
  if (template && spec.restartPolicy !== undefined && spec.restartPolicy !== 'Always') {
    errors.push(notSupported(`${field}.restartPolicy`, spec.restartPolicy, ['Always']));
  }
}

function emptySelector(selector: unknown): boolean {
  if (!isObject(selector)) return true;
  const labels = isObject(selector.matchLabels) ? Object.keys(selector.matchLabels).length : 0;
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0;
  return labels + exprs === 0;
}

function goSelector(selector: unknown): string {
  const s = isObject(selector) ? selector : {};
  const ml = isObject(s.matchLabels) ? goValue(s.matchLabels) : 'map[string]string(nil)';
  const me = Array.isArray(s.matchExpressions) && s.matchExpressions.length > 0 ? `[]v1.LabelSelectorRequirement{...}` : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${ml}, MatchExpressions:${me}}`;
}

function workloadErrors(def: ResourceDef, obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  if (typeof spec.replicas === 'number' && spec.replicas < 0) errors.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  if (spec.selector === undefined) errors.push(required('spec.selector'));
  else if (emptySelector(spec.selector)) errors.push(invalidValue('spec.selector', goSelector(spec.selector), `empty selector is invalid for ${def.singular}`));
  const template = isObject(spec.template) ? spec.template : undefined;
  const labels = isObject(template?.metadata) ? template.metadata.labels : undefined;
  labelErrors(labels, 'spec.template.metadata.labels', errors);
  if (spec.selector !== undefined && !emptySelector(spec.selector) && !matchesSelectorObject(spec.selector, labels)) {
    errors.push(invalidValue('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
  }
  if (!template) errors.push(required('spec.template'));
  else {
    const claimTemplates = Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates.map((t: Obj) => t?.metadata?.name).filter((n: unknown) => typeof n === 'string') : [];
    podSpecErrors(template.spec, 'spec.template.spec', errors, true, claimTemplates);
  }
  if (def.kind === 'Deployment') {
    const ru = isObject(spec.strategy) && isObject(spec.strategy.rollingUpdate) ? spec.strategy.rollingUpdate : undefined;
    if (ru && isZero(ru.maxSurge) && isZero(ru.maxUnavailable)) {
      errors.push(invalidValue('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
    if (typeof spec.progressDeadlineSeconds === 'number' && spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errors.push(invalidValue('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  if (old && isObject(old.spec) && !deepEqual(old.spec.selector, spec.selector)) {
    errors.push(invalidValue('spec.selector', goSelector(spec.selector), 'field is immutable'));
  }
}

const isZero = (v: unknown) => v === 0 || v === '0' || v === '0%';

/** The spec fields ValidateStatefulSetUpdate lets change (v1.30); any other change is Forbidden. */
const STATEFULSET_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

/** ValidateStatefulSetSpec's own rules beyond a workload's, and ValidateStatefulSetUpdate. */
function statefulSetErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const restartPolicy = spec.template?.spec?.restartPolicy;
  if (restartPolicy !== undefined && restartPolicy !== 'Always') errors.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
  (Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : []).forEach((t: Obj, i: number) => {
    if (!t?.metadata?.name) errors.push(required(`spec.volumeClaimTemplates[${i}].metadata.name`));
    if (!isObject(t?.spec) || !Array.isArray(t.spec.accessModes) || t.spec.accessModes.length === 0) {
      errors.push(required(`spec.volumeClaimTemplates[${i}].spec.accessModes`, 'at least 1 access mode is required'));
    }
    if (parseQuantity(t?.spec?.resources?.requests?.storage) === undefined) errors.push(required(`spec.volumeClaimTemplates[${i}].spec.resources[storage]`));
  });
  if (!old || !isObject(old.spec)) return;
  const rest = (s: Obj) => Object.fromEntries(Object.entries(s).filter(([k]) => !STATEFULSET_MUTABLE.includes(k)));
  if (!deepEqual(rest(spec), rest(old.spec))) {
    const list = STATEFULSET_MUTABLE.map((f) => `'${f}'`);
    errors.push(forbiddenField('spec', `updates to statefulset spec for fields other than ${list.slice(0, -1).join(', ')} and ${list.at(-1)} are forbidden`));
  }
}

/** ValidateJob / ValidateJobUpdate (the parts a preview's Jobs meet). */
function jobErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  for (const k of ['parallelism', 'completions', 'backoffLimit', 'ttlSecondsAfterFinished']) {
    if (typeof spec[k] === 'number' && spec[k] < 0) errors.push(invalidValue(`spec.${k}`, spec[k], 'must be greater than or equal to 0'));
  }
  if (typeof spec.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds <= 0) {
    errors.push(invalidValue('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds, 'must be greater than 0'));
  }
  const template = isObject(spec.template) ? spec.template : undefined;
  if (!template) errors.push(required('spec.template'));
  else {
    labelErrors(template.metadata?.labels, 'spec.template.metadata.labels', errors);
    podSpecErrors(template.spec, 'spec.template.spec', errors, false);
    const restartPolicy = template.spec?.restartPolicy;
    if (restartPolicy !== 'OnFailure' && restartPolicy !== 'Never') {
      errors.push(notSupported('spec.template.spec.restartPolicy', restartPolicy ?? '', ['OnFailure', 'Never']));
    }
    if (spec.selector !== undefined && !matchesSelectorObject(spec.selector, template.metadata?.labels)) {
      errors.push(invalidValue('spec.template.metadata.labels', template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
    }
  }
  if (!old || !isObject(old.spec)) return;
  if (!deepEqual(old.spec.selector, spec.selector)) errors.push(invalidValue('spec.selector', goSelector(spec.selector), 'field is immutable'));
  if (!deepEqual(old.spec.completions, spec.completions)) errors.push(invalidValue('spec.completions', spec.completions, 'field is immutable'));
  // The template may change only while the Job is suspended (and then only scheduling directives); never otherwise.
  if (!deepEqual(old.spec.template, spec.template)) errors.push(invalidValue('spec.template', goValue(spec.template ?? {}), 'field is immutable'));
}

/** ValidatePersistentVolumeClaim / ValidatePersistentVolumeClaimUpdate: after creation only requests (expansion) may change. */
function claimErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0) errors.push(required('spec.accessModes', 'at least 1 access mode is required'));
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) errors.push(required('spec.resources[storage]'));
  else if ((parseQuantity(storage) ?? 0) <= 0) errors.push(invalidValue('spec.resources[storage]', storage, 'must be greater than zero'));
  if (!old || !isObject(old.spec)) return;
  const withoutRequests = (s: Obj) => ({ ...s, resources: { ...(s.resources ?? {}), requests: undefined } });
  // spec.volumeName is the binder's to set once.
  const comparable = (s: Obj) => ({ ...withoutRequests(s), volumeName: undefined });
  if (!deepEqual(stripUndefined(comparable(spec)), stripUndefined(comparable(old.spec))) || (old.spec.volumeName && old.spec.volumeName !== spec.volumeName)) {
    errors.push(forbiddenField('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  } else if ((parseQuantity(storage) ?? 0) < (parseQuantity(old.spec.resources?.requests?.storage) ?? 0)) {
    errors.push(forbiddenField('spec.resources.requests.storage', 'field can not be less than previous value'));
  }
}

const stripUndefined = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));

function serviceErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const type = spec.type ?? 'ClusterIP';
  const ports: unknown[] = Array.isArray(spec.ports) ? spec.ports : [];
  if (type !== 'ExternalName' && spec.clusterIP !== 'None' && ports.length === 0) errors.push(required('spec.ports'));
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    portRange(`spec.ports[${i}].port`, p.port, errors);
    if (typeof p.targetPort === 'number') portRange(`spec.ports[${i}].targetPort`, p.targetPort, errors);
    if (typeof p.targetPort === 'string') for (const e of portNameErrors(p.targetPort)) errors.push(invalidValue(`spec.ports[${i}].targetPort`, p.targetPort, e));
    if (ports.length > 1 && (typeof p.name !== 'string' || p.name === '')) errors.push(required(`spec.ports[${i}].name`));
    if (typeof p.name === 'string' && p.name !== '') {
      if (names.has(p.name)) errors.push(duplicate(`spec.ports[${i}].name`, p.name));
      names.add(p.name);
      for (const e of dns1123LabelErrors(p.name)) errors.push(invalidValue(`spec.ports[${i}].name`, p.name, e));
    }
  });
  labelErrors(spec.selector, 'spec.selector', errors);
  const oldIP = isObject(old?.spec) ? old.spec.clusterIP : undefined;
  if (oldIP && spec.clusterIP && oldIP !== spec.clusterIP) {
    errors.push(invalidValue('spec.clusterIPs[0]', `[]string{${JSON.stringify(spec.clusterIP)}}`, 'may not change once set'));
  }
}

function secretErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  let size = 0;
  for (const [k, v] of Object.entries(isObject(obj.data) ? obj.data : {})) {
    for (const e of configKeyErrors(k)) errors.push(invalidValue('data', k, e));
    size += Buffer.from(String(v), 'base64').length;
  }
  if (size > 1024 * 1024) errors.push({ type: 'FieldValueTooLong', field: 'data', detail: 'Too long: must have at most 1048576 bytes' });
  const data = isObject(obj.data) ? obj.data : {};
  if (obj.type === 'kubernetes.io/tls') {
    for (const key of ['tls.crt', 'tls.key']) if (!(key in data)) errors.push(required(`data[${key}]`));
  }
  if (obj.type === 'kubernetes.io/dockerconfigjson' && !('.dockerconfigjson' in data)) errors.push(required('data[.dockerconfigjson]'));
  if (old) {
    if ((old.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) errors.push(invalidValue('type', obj.type, 'field is immutable'));
    if (old.immutable === true) {
      if (!deepEqual(old.data, obj.data)) errors.push(forbiddenField('data', 'field is immutable when `immutable` is set'));
      if (obj.immutable !== true) errors.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
    }
  }
}

function configMapErrors(obj: Obj, errors: FieldError[]): void {
  const data = isObject(obj.data) ? obj.data : {};
  const binary = isObject(obj.binaryData) ? obj.binaryData : {};
  for (const k of Object.keys(data)) for (const e of configKeyErrors(k)) errors.push(invalidValue('data', k, e));
  for (const k of Object.keys(binary)) {
    for (const e of configKeyErrors(k)) errors.push(invalidValue('binaryData', k, e));
    if (k in data) errors.push(invalidValue('data', k, 'duplicate of key present in binaryData'));
  }
}

function ingressErrors(obj: Obj, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  (Array.isArray(spec.rules) ? spec.rules : []).forEach((rule: Obj, i: number) => {
    if (!isObject(rule)) return;
    if (typeof rule.host === 'string' && rule.host !== '') {
      const host = rule.host.startsWith('*.') ? rule.host.slice(2) : rule.host;
      if (/^\d+\.\d+\.\d+\.\d+$/.test(rule.host)) errors.push(invalidValue(`spec.rules[${i}].host`, rule.host, 'must be a DNS name, not an IP address'));
      else for (const e of dns1123SubdomainErrors(host)) errors.push(invalidValue(`spec.rules[${i}].host`, rule.host, e));
    }
    const paths = isObject(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
    paths.forEach((p: Obj, j: number) => {
      if (!isObject(p)) return;
      const at = `spec.rules[${i}].http.paths[${j}]`;
      if ((p.pathType === 'Prefix' || p.pathType === 'Exact') && typeof p.path === 'string' && !p.path.startsWith('/')) {
        errors.push(invalidValue(`${at}.path`, p.path, 'must be an absolute path'));
      }
      const service = isObject(p.backend) && isObject(p.backend.service) ? p.backend.service : undefined;
      if (service) {
        if (typeof service.name === 'string') for (const e of dns1035LabelErrors(service.name)) errors.push(invalidValue(`${at}.backend.service.name`, service.name, e));
        const port = isObject(service.port) ? service.port : {};
        if (port.number === undefined && (port.name === undefined || port.name === '')) errors.push(required(`${at}.backend.service.port.name`));
        if (port.number !== undefined && port.name !== undefined) errors.push(invalidValue(`${at}.backend.service.port`, port, 'cannot set both port name & port number'));
        portRange(`${at}.backend.service.port.number`, port.number, errors);
      }
    });
  });
}

function quantityMapErrors(map: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(map)) return;
  for (const [name, q] of Object.entries(map)) {
    if (parseQuantity(q) === undefined) errors.push(invalidValue(`${field}[${name}]`, q, `quantities must match the regular expression '${QUANTITY_PATTERN}'`));
  }
}

const RBAC_KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/** path.IsValidPathSegmentName: how RBAC names its objects (colons allowed, as in system:basic-user). */
export function pathSegmentErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const count = (v: unknown) => list(v).length;

/** ValidateRole / ValidateClusterRole's validatePolicyRule (pkg/apis/rbac/validation/validation.go). */
function policyRuleErrors(rules: unknown, namespaced: boolean, errors: FieldError[]): void {
  list(rules).forEach((rule, i) => {
    if (!isObject(rule)) return;
    const at = `rules[${i}]`;
    if (count(rule.verbs) === 0) errors.push(required(`${at}.verbs`, 'verbs must contain at least one value'));
    if (count(rule.nonResourceURLs) > 0) {
      const urls = `[]string{${list(rule.nonResourceURLs).map((u) => JSON.stringify(u)).join(', ')}}`;
      if (namespaced) errors.push({ type: 'FieldValueInvalid', field: `${at}.nonResourceURLs`, detail: `Invalid value: ${urls}: namespaced rules cannot apply to non-resource URLs` });
      if (count(rule.apiGroups) > 0 || count(rule.resources) > 0 || count(rule.resourceNames) > 0) {
        errors.push({ type: 'FieldValueInvalid', field: `${at}.nonResourceURLs`, detail: `Invalid value: ${urls}: rules cannot apply to both regular resources and non-resource URLs` });
      }
      return;
    }
    if (count(rule.apiGroups) === 0) errors.push(required(`${at}.apiGroups`, 'resource rules must supply at least one api group'));
    if (count(rule.resources) === 0) errors.push(required(`${at}.resources`, 'resource rules must supply at least one resource'));
    if (count(rule.resourceNames) > 0 && count(rule.resources) > 1) errors.push(required(`${at}.resourceNames`, 'resource names cannot apply to multiple resources'));
  });
}

/** ValidateRoleBinding / ValidateClusterRoleBinding, and their updates' immutable roleRef. */
function bindingErrors(def: ResourceDef, obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
  const roleRef = isObject(obj.roleRef) ? obj.roleRef : {};
  const kinds = def.kind === 'RoleBinding' ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (roleRef.apiGroup !== 'rbac.authorization.k8s.io') errors.push(notSupported('roleRef.apiGroup', roleRef.apiGroup ?? '', ['rbac.authorization.k8s.io']));
  if (!kinds.includes(roleRef.kind)) errors.push(notSupported('roleRef.kind', roleRef.kind ?? '', kinds));
  if (typeof roleRef.name !== 'string' || roleRef.name === '') errors.push(required('roleRef.name'));
  else for (const e of pathSegmentErrors(roleRef.name)) errors.push(invalidValue('roleRef.name', roleRef.name, e));
  list(obj.subjects).forEach((subject, i) => {
    if (!isObject(subject)) return;
    const at = `subjects[${i}]`;
    const name = typeof subject.name === 'string' ? subject.name : '';
    if (name === '') errors.push(required(`${at}.name`));
    switch (subject.kind) {
      case 'ServiceAccount':
        if (name) for (const e of dns1123SubdomainErrors(name)) errors.push(invalidValue(`${at}.name`, name, e));
        if (subject.apiGroup) errors.push(notSupported(`${at}.apiGroup`, subject.apiGroup, ['']));
        if (def.kind === 'ClusterRoleBinding' && !subject.namespace) errors.push(required(`${at}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (name === '') errors.push(invalidValue(`${at}.name`, '', `${subject.kind === 'User' ? 'user' : 'group'} name cannot be empty`));
        if (subject.apiGroup !== 'rbac.authorization.k8s.io') errors.push(notSupported(`${at}.apiGroup`, subject.apiGroup ?? '', ['rbac.authorization.k8s.io']));
        break;
      default:
        errors.push(notSupported(`${at}.kind`, subject.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
  const oldRef = isObject(old?.roleRef) ? old.roleRef : undefined;
  if (old && !(oldRef && oldRef.apiGroup === roleRef.apiGroup && oldRef.kind === roleRef.kind && oldRef.name === roleRef.name)) {
    const shown = `rbac.RoleRef{APIGroup:${JSON.stringify(roleRef.apiGroup ?? '')}, Kind:${JSON.stringify(roleRef.kind ?? '')}, Name:${JSON.stringify(roleRef.name ?? '')}}`;
    errors.push({ type: 'FieldValueInvalid', field: 'roleRef', detail: `Invalid value: ${shown}: cannot change roleRef` });
  }
}

/** validateMatchResources: what defaulting fills in must be there and be one of the known values. */
function matchResourcesErrors(match: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(match)) return;
  if (match.matchPolicy === undefined) errors.push(required(`${field}.matchPolicy`));
  else if (!['Equivalent', 'Exact'].includes(match.matchPolicy)) errors.push(notSupported(`${field}.matchPolicy`, match.matchPolicy, ['Equivalent', 'Exact']));
  if (match.namespaceSelector === undefined) errors.push(required(`${field}.namespaceSelector`));
  if (match.objectSelector === undefined) errors.push(required(`${field}.objectSelector`));
}

/**
 * ValidateValidatingAdmissionPolicy and ValidateValidatingAdmissionPolicyBinding
 * (pkg/apis/admissionregistration/validation/validation.go), without compiling the CEL expressions.
 */
function admissionPolicyErrors(def: ResourceDef, obj: Obj, errors: FieldError[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  if (def.kind === 'ValidatingAdmissionPolicy') {
    if (spec.failurePolicy === undefined) errors.push(required('spec.failurePolicy'));
    else if (!['Fail', 'Ignore'].includes(spec.failurePolicy)) errors.push(notSupported('spec.failurePolicy', spec.failurePolicy, ['Fail', 'Ignore']));
    if (!isObject(spec.matchConstraints)) errors.push(required('spec.matchConstraints'));
    else {
      matchResourcesErrors(spec.matchConstraints, 'spec.matchConstraints', errors);
      if (count(spec.matchConstraints.resourceRules) === 0) errors.push(required('spec.matchConstraints.resourceRules'));
    }
    if (count(spec.validations) === 0 && count(spec.auditAnnotations) === 0) {
      errors.push(required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
      errors.push(required('spec.auditAnnotations', 'validations or auditAnnotations must contain at least one item'));
    }
    list(spec.validations).forEach((v, i) => {
      if (!isObject(v)) return;
      const at = `spec.validations[${i}]`;
      if (typeof v.expression !== 'string' || v.expression.trim() === '') errors.push(required(`${at}.expression`, 'expression is not specified'));
      if (typeof v.message === 'string' && v.message.length > 0) {
        if (v.message.trim() === '') errors.push(invalidValue(`${at}.message`, v.message, 'message must be non-empty if specified'));
        else if (/[\n\r]/.test(v.message.trim())) errors.push(invalidValue(`${at}.message`, v.message, 'message must not contain line breaks'));
      }
      const reasons = ['Forbidden', 'Invalid', 'RequestEntityTooLarge', 'Unauthorized'];
      if (v.reason !== undefined && !reasons.includes(v.reason)) errors.push(notSupported(`${at}.reason`, v.reason, reasons));
    });
    return;
  }
  if (typeof spec.policyName !== 'string' || spec.policyName === '') errors.push(required('spec.policyName'));
  else for (const e of dns1123SubdomainErrors(spec.policyName)) errors.push(invalidValue('spec.policyName', spec.policyName, e));
  if (isObject(spec.paramRef)) {
    const ref = spec.paramRef;
    if (ref.name && ref.selector !== undefined) {
      errors.push(forbiddenField('spec.paramRef.name', 'name and selector are mutually exclusive'));
      errors.push(forbiddenField('spec.paramRef.selector', 'name and selector are mutually exclusive'));
    }
    if (!ref.name && ref.selector === undefined) errors.push(required('spec.paramRef', 'one of name or selector must be specified'));
    if (!ref.parameterNotFoundAction) errors.push(required('spec.paramRef.parameterNotFoundAction'));
    else if (!['Deny', 'Allow'].includes(ref.parameterNotFoundAction)) errors.push(notSupported('spec.paramRef.parameterNotFoundAction', ref.parameterNotFoundAction, ['Deny', 'Allow']));
  }
  matchResourcesErrors(spec.matchResources, 'spec.matchResources', errors);
  const actions = list(spec.validationActions);
  const seen = new Set<unknown>();
  actions.forEach((a, i) => {
    if (!['Audit', 'Deny', 'Warn'].includes(a as string)) errors.push(notSupported(`spec.validationActions[${i}]`, a, ['Audit', 'Deny', 'Warn']));
    if (seen.has(a)) errors.push(duplicate(`spec.validationActions[${i}]`, a));
    seen.add(a);
  });
  if (seen.has('Deny') && seen.has('Warn')) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.validationActions',
      detail: `Invalid value: []admissionregistration.ValidationAction{${actions.map((a) => JSON.stringify(a)).join(', ')}}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)`,
    });
  }
  if (seen.size === 0) errors.push(required('spec.validationActions', 'at least one validation action is required'));
}

/** Kinds the fake checks with the server's own Go validation ahead of the OpenAPI schema, whose messages are terser. */
const SERVER_RULES_FIRST = [...RBAC_KINDS, 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

/**
 * Everything the API server checks before storing `obj` (already defaulted): the kind's OpenAPI schema, then the
 * apimachinery and per-kind rules; `old` is the stored object on updates. Throws 422 Invalid.
 */
export function validateObject(def: ResourceDef, obj: Obj, old: Obj | undefined, schemas: Map<string, SchemaValidator>): void {
  const errors: FieldError[] = [];
  const schema = schemas.get(`${apiVersionOf(def)}/${def.kind}`);
  if (def.crd) {
    // A custom resource: metadata first, then the CRD's schema and rules (customResourceStrategy.Validate).
    metaErrors(def, obj, errors);
    customResourceErrors(errors, schema, gatewayApiRules(def.kind), obj, old);
    // Several rules of one field fail separately; ajv may report one violation twice.
    if (errors.length > 0) throw invalid(def, String(obj.metadata?.name ?? ''), uniqueErrors(errors, true));
    return;
  }
  const serverFirst = SERVER_RULES_FIRST.includes(def.kind);
  if (schema && !serverFirst) errors.push(...schemaErrors(schema, obj));
  metaErrors(def, obj, errors);
  switch (def.kind) {
    case 'Role':
    case 'ClusterRole':
      policyRuleErrors(obj.rules, def.kind === 'Role', errors);
      break;
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      bindingErrors(def, obj, old, errors);
      break;
    case 'ValidatingAdmissionPolicy':
    case 'ValidatingAdmissionPolicyBinding':
      admissionPolicyErrors(def, obj, errors);
      break;
    case 'Deployment':
    case 'ReplicaSet':
      workloadErrors(def, obj, old, errors);
      break;
    case 'Pod':
      podSpecErrors(obj.spec, 'spec', errors, false);
      break;
    case 'StatefulSet':
      workloadErrors(def, obj, old, errors);
      statefulSetErrors(obj, old, errors);
      break;
    case 'Job':
      jobErrors(obj, old, errors);
      break;
    case 'PersistentVolumeClaim':
      claimErrors(obj, old, errors);
      break;
    case 'Service':
      serviceErrors(obj, old, errors);
      break;
    case 'Secret':
      secretErrors(obj, old, errors);
      break;
    case 'ConfigMap':
      configMapErrors(obj, errors);
      break;
    case 'Ingress':
      ingressErrors(obj, errors);
      break;
    case 'ResourceQuota':
      quantityMapErrors(obj.spec?.hard, 'spec.hard', errors);
      break;
    case 'LimitRange':
      (Array.isArray(obj.spec?.limits) ? obj.spec.limits : []).forEach((l: Obj, i: number) => {
        for (const k of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) quantityMapErrors(l?.[k], `spec.limits[${i}].${k}`, errors);
      });
      break;
  }
  if (schema && serverFirst) errors.push(...schemaErrors(schema, obj));
  const unique = uniqueErrors(errors);
  if (unique.length > 0) throw invalid(def, String(obj.metadata?.name ?? ''), unique);
}

/** The same field can fail the schema and a rule; the server reports each problem (`byDetail`: each message) once. */
function uniqueErrors(errors: FieldError[], byDetail = false): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}|${e.type}${byDetail ? `|${e.detail}` : ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
