import { addonCredentialsSecret } from './preview-addons.js';
import type { PreviewConfig } from './preview-config-schema.js';
import type { PreviewService } from './preview-container.js';
import type { PreviewJob } from './preview-jobs.js';
import { unknownPlaceholders } from './preview-placeholders.js';

// The rules of `.ephemera.yml` that span fields (a route naming a service, an add-on's variable in a container):
// each reports what it finds at the path of the field to fix.

/** Reports one problem at `path`. */
export type AddIssue = (path: Array<string | number>, message: string) => void;

/** Every rule that spans fields, in the order the problems are reported. */
export function checkPreviewConfig(config: PreviewConfig, add: AddIssue): void {
  if (config.routes !== undefined) checkRoutes(config, config.routes, add);
  else checkExposed(config, add);
  const urlEnvs = checkAddons(config, add);
  const credentials = new Map(Object.keys(config.addons ?? {}).map((a) => [addonCredentialsSecret(a), a]));
  const containers: Array<['services' | 'jobs', string, PreviewService | PreviewJob]> = [
    ...Object.entries(config.services).map(([n, s]): ['services', string, PreviewService] => ['services', n, s]),
    ...Object.entries(config.jobs ?? {}).map(([n, j]): ['jobs', string, PreviewJob] => ['jobs', n, j]),
  ];
  for (const [kind, name, container] of containers) {
    const at: AddIssue = (path, message) => add([kind, name, ...path], message);
    if (kind === 'services' && 'health' in container && container.health && container.port === undefined) {
      at(['health'], 'needs `port` (the probe runs on it)');
    }
    checkVariables(config, container, urlEnvs, credentials, at);
    for (const { path, message } of unknownPlaceholders(container)) at(path, message);
  }
}

/** `routes` instead of `expose`: each path routed once, to a service with a port. */
function checkRoutes(config: PreviewConfig, routes: NonNullable<PreviewConfig['routes']>, add: AddIssue): void {
  const names = Object.keys(config.services);
  if (config.expose !== undefined) add(['routes'], '`routes` and `expose` do not go together: keep one of them');
  const seen = new Map<string, number>();
  routes.forEach((route, i) => {
    const first = seen.get(route.path);
    if (first !== undefined) add(['routes', i, 'path'], `${route.path} is already routed by routes.${first}`);
    else seen.set(route.path, i);
    const service = config.services[route.service];
    if (service === undefined) add(['routes', i, 'service'], `names no service (services: ${names.join(', ')})`);
    else if (service.port === undefined) add(['routes', i, 'service'], `${route.service} has no \`port\` to route to`);
  });
}

/** Without `routes`: the service behind the preview URL, named by `expose` unless it is the only one, has a port. */
function checkExposed(config: PreviewConfig, add: AddIssue): void {
  const names = Object.keys(config.services);
  if (config.expose !== undefined && !names.includes(config.expose)) {
    add(['expose'], `names no service (services: ${names.join(', ')})`);
  }
  if (config.expose === undefined && names.length > 1) {
    add(['expose'], `required when there are several services (${names.join(', ')})`);
  }
  const exposed = config.expose ?? (names.length === 1 ? names[0] : undefined);
  if (exposed !== undefined && config.services[exposed] && config.services[exposed].port === undefined) {
    add(['services', exposed, 'port'], 'required for the exposed service');
  }
}

/**
 * Add-ons: a Service each, beside the services' own; one variable each in every container. Returns the add-on of
 * each `url_env` (the first, when two share one).
 */
function checkAddons(config: PreviewConfig, add: AddIssue): Map<string, string> {
  const names = Object.keys(config.services);
  const urlEnvs = new Map<string, string>();
  for (const [name, addon] of Object.entries(config.addons ?? {})) {
    if (names.includes(name)) add(['addons', name], `${name} is also a service (both would be the Service ${name}): rename one`);
    const other = urlEnvs.get(addon.url_env);
    if (other !== undefined) {
      add(['addons', name, 'url_env'], `${addon.url_env} is also the url_env of add-on ${other}: set url_env to a different variable on one of them`);
    } else {
      urlEnvs.set(addon.url_env, name);
    }
  }
  return urlEnvs;
}

/** A container's variables: none set twice, none that is an add-on's URL, no add-on's credentials read by hand. */
function checkVariables(config: PreviewConfig, container: PreviewService | PreviewJob, urlEnvs: Map<string, string>, credentials: Map<string, string>, at: AddIssue): void {
  const plain = new Set(Object.keys(container.env));
  for (const variable of plain) {
    const addon = urlEnvs.get(variable);
    if (addon !== undefined) at(['env', variable], addonVariableClash(variable, addon));
  }
  container.secret_env.forEach((s, i) => {
    if (plain.has(s.name)) at(['secret_env', i, 'name'], `${s.name} is also set in env`);
    else if (urlEnvs.has(s.name)) at(['secret_env', i, 'name'], addonVariableClash(s.name, urlEnvs.get(s.name)!));
    const addon = credentials.get(s.secret);
    if (addon !== undefined) {
      at(
        ['secret_env', i, 'secret'],
        `${s.secret} is the Secret of add-on ${addon} (its URL is already in ${config.addons![addon]!.url_env}): name another Secret or rename the add-on`,
      );
    }
  });
}

function addonVariableClash(variable: string, addon: string): string {
  return `${variable} is the url_env of add-on ${addon}, which every service and job gets: remove it here or set that add-on's url_env to another name`;
}
