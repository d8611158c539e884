export * from './webhook-examples.js';
export * from './signed-delivery.js';
export * from './scratch-redis.js';
export { freePort, startPostgres, startRedis, type RunningServer } from '@ephemera/devstack/servers';
export * from './fake-github.js';
export * from './pull-request-payload.js';
export * from './gate-payloads.js';
export * from './shuffled.js';
export * from './load-generator.js';
export * from './fake-kubernetes.js';
export { setValidatingAdmission, type AdmissionRequest, type ValidatingAdmission } from './fake-kubernetes/admission-hook.js';
export type { UserInfo } from './fake-kubernetes/rbac.js';
export * from './network-policy-evaluator.js';
// AdmissionRequest is exported above (admission-hook.ts); admission-policy.ts declares the same shape.
export { admitWithPolicies } from './fake-kubernetes/admission-policy.js';
export * from './run-bench.js';
export * from './wait-for-ready.js';
