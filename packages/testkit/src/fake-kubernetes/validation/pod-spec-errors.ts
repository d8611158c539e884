/** A pod spec's rules (ValidatePodSpec, the parts a preview's pods meet): volumes, containers, ports, env, resources. */
import { isObject, type Obj } from '../merge.js';
import { dns1123LabelErrors, envVarNameErrors } from '../names.js';
import { parseQuantity } from '../quantity.js';
import { duplicate, goValue, invalidValue, notSupported, required, type FieldError } from '../status.js';
import { quantityMapErrors } from './quota-errors.js';

export function portNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 15) errors.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(name)) errors.push('must contain at least one letter (a-z)');
  if (name.startsWith('-') || name.endsWith('-')) errors.push('must not begin or end with a hyphen');
  if (name.includes('--')) errors.push('must not contain consecutive hyphens');
  return errors;
}

export const portRange = (field: string, port: unknown, errors: FieldError[]) => {
  if (typeof port === 'number' && (port < 1 || port > 65535 || !Number.isInteger(port))) errors.push(invalidValue(field, port, 'must be between 1 and 65535, inclusive'));
};

function resourceErrors(resources: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(resources)) return;
  for (const kind of ['limits', 'requests'] as const) quantityMapErrors(resources[kind], `${field}.${kind}`, errors);
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
export function podSpecErrors(spec: unknown, field: string, errors: FieldError[], template: boolean, claimTemplates: string[] = []): void {
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
