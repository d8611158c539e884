/** Each served kind's OpenAPI schema (from kubernetes-models, and the Gateway API's CRDs), and its violations as field errors. */
import { loadGatewayApiValidators } from '../gateway-api-schema.js';
import type { Obj } from '../merge.js';
import { schemaViolations } from '../schema-violations.js';
import { fieldPath, invalidValue, notSupported, required, type FieldError } from '../status.js';

export type SchemaValidator = (obj: Obj) => void;

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

export function schemaErrors(validate: SchemaValidator, obj: Obj): FieldError[] {
  return schemaViolations(validate, obj, (e) => {
    const { field, value } = fieldPath(obj, e.instancePath);
    if (e.keyword === 'required') return required(`${field ? `${field}.` : ''}${String(e.params.missingProperty)}`);
    if (e.keyword === 'enum') return notSupported(field, value, (e.params.allowedValues as unknown[]).map(String));
    if (e.keyword === 'type') return invalidValue(field, value, `${field} in body must be of type ${String(e.params.type)}: ${JSON.stringify(typeof value)}`);
    return invalidValue(field, value, e.message ?? e.keyword);
  });
}
