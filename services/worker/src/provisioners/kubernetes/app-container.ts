import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { renderPlaceholders, type PreviewJob, type PreviewService } from '@ephemera/schema';
import { addonUrlEnv } from './preview-addons.js';
import type { PreviewManifestInput } from './preview-manifest-input.js';
import { containerSecurity } from './preview-pod.js';

/** The container of a service or a job: its image, command, variables (the add-ons' URLs by reference) and limits. */
export function appContainer(name: string, spec: PreviewService | PreviewJob, input: Pick<PreviewManifestInput, 'config' | 'placeholders'>): V1Container {
  const render = (text: string) => renderPlaceholders(text, input.placeholders);
  const env: V1EnvVar[] = [
    ...Object.entries(spec.env).map(([k, v]) => ({ name: k, value: typeof v === 'string' ? render(v) : String(v) })),
    ...spec.secret_env.map((s) => ({ name: s.name, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } })),
    ...addonUrlEnv(input.config),
  ];
  const service = 'port' in spec ? spec : undefined;
  return {
    name,
    image: render(spec.image),
    ...(spec.command ? { command: spec.command.map(render) } : {}),
    ...(spec.args ? { args: spec.args.map(render) } : {}),
    ...(service?.port !== undefined ? { ports: [{ name: 'http', containerPort: service.port, protocol: 'TCP' }] } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...resources(spec.resources),
    ...(service?.health
      ? { readinessProbe: { httpGet: { path: service.health.path, port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 } }
      : {}),
    securityContext: containerSecurity(spec.run_as_user),
  };
}

/** The file's `resources`, as both request and limit; none: the namespace's LimitRange defaults apply. */
function resources(asked: PreviewService['resources']): Pick<V1Container, 'resources'> {
  if (!asked || (!asked.cpu && !asked.memory)) return {};
  const amounts = { ...(asked.cpu ? { cpu: asked.cpu } : {}), ...(asked.memory ? { memory: asked.memory } : {}) };
  return { resources: { requests: amounts, limits: { ...amounts } } };
}
