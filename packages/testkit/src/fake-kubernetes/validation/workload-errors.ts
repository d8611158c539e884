/** Deployments, ReplicaSets, StatefulSets and Jobs: selectors, templates, strategies, and what may not change. */
import { deepEqual, isObject, type Obj } from '../merge.js';
import { parseQuantity } from '../quantity.js';
import type { ResourceDef } from '../resources.js';
import { matchesSelectorObject } from '../selectors.js';
import { forbiddenField, goValue, invalidValue, notSupported, required, type FieldError } from '../status.js';
import { labelErrors } from './meta-errors.js';
import { podSpecErrors } from './pod-spec-errors.js';

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

export function workloadErrors(obj: Obj, old: Obj | undefined, errors: FieldError[], def: ResourceDef): void {
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
export function statefulSetErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
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
export function jobErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
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
