import { customResourceErrors } from './crd-validation.js';
import { gatewayApiRules } from './gateway-api-rules.js';
import type { Obj } from './merge.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { invalid, type FieldError } from './status.js';
import { admissionPolicyErrors } from './validation/admission-policy-errors.js';
import { claimErrors } from './validation/claim-errors.js';
import { configMapErrors, secretErrors } from './validation/config-errors.js';
import { metaErrors } from './validation/meta-errors.js';
import { ingressErrors, serviceErrors } from './validation/network-errors.js';
import { podSpecErrors } from './validation/pod-spec-errors.js';
import { limitRangeErrors, resourceQuotaErrors } from './validation/quota-errors.js';
import { bindingErrors, policyRuleErrors, RBAC_KINDS } from './validation/rbac-errors.js';
import { schemaErrors, type SchemaValidator } from './validation/schema-validators.js';
import { jobErrors, statefulSetErrors, workloadErrors } from './validation/workload-errors.js';

export { checkBase64Data } from './validation/config-errors.js';
export { pathSegmentErrors } from './validation/rbac-errors.js';
export { loadSchemaValidators } from './validation/schema-validators.js';

/** Kinds the fake checks with the server's own Go validation ahead of the OpenAPI schema, whose messages are terser. */
const SERVER_RULES_FIRST = [...RBAC_KINDS, 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

/** One kind's own rules (its Go validation, and on updates what may not change); `old` is the stored object. */
type KindRules = (obj: Obj, old: Obj | undefined, errors: FieldError[], def: ResourceDef) => void;

const KIND_RULES: Record<string, KindRules> = {
  Role: (obj, _old, errors) => policyRuleErrors(obj.rules, true, errors),
  ClusterRole: (obj, _old, errors) => policyRuleErrors(obj.rules, false, errors),
  RoleBinding: bindingErrors,
  ClusterRoleBinding: bindingErrors,
  ValidatingAdmissionPolicy: admissionPolicyErrors,
  ValidatingAdmissionPolicyBinding: admissionPolicyErrors,
  Deployment: workloadErrors,
  ReplicaSet: workloadErrors,
  Pod: (obj, _old, errors) => podSpecErrors(obj.spec, 'spec', errors, false),
  StatefulSet: (obj, old, errors, def) => {
    workloadErrors(obj, old, errors, def);
    statefulSetErrors(obj, old, errors);
  },
  Job: jobErrors,
  PersistentVolumeClaim: claimErrors,
  Service: serviceErrors,
  Secret: secretErrors,
  ConfigMap: configMapErrors,
  Ingress: ingressErrors,
  ResourceQuota: resourceQuotaErrors,
  LimitRange: limitRangeErrors,
};

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
  const rules = Object.prototype.hasOwnProperty.call(KIND_RULES, def.kind) ? KIND_RULES[def.kind] : undefined;
  rules?.(obj, old, errors, def);
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
