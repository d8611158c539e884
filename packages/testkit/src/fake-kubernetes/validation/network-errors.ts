/** Services and Ingresses: ports, names, hosts, paths and backends. */
import { isObject, type Obj } from '../merge.js';
import { dns1035LabelErrors, dns1123LabelErrors, dns1123SubdomainErrors } from '../names.js';
import { duplicate, invalidValue, required, type FieldError } from '../status.js';
import { labelErrors } from './meta-errors.js';
import { portNameErrors, portRange } from './pod-spec-errors.js';

export function serviceErrors(obj: Obj, old: Obj | undefined, errors: FieldError[]): void {
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

export function ingressErrors(obj: Obj, _old: Obj | undefined, errors: FieldError[]): void {
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
