/** GitHub's limit on an App's name. */
export const MAX_NAME_LENGTH = 34;
const MAX_CALLBACK_URLS = 10;

const READ_WRITE = ['read', 'write'] as const;
/**
 * App permissions GitHub knows and the access each may be given (GitHub's `app-permissions` schema); a manifest asking
 * for another, or for an access the permission does not have, is refused.
 */
const PERMISSION_LEVELS: Record<string, readonly string[]> = {
  ...Object.fromEntries(
    [
      'actions', 'administration', 'checks', 'contents', 'deployments', 'environments', 'issues', 'metadata', 'packages',
      'pages', 'pull_requests', 'repository_hooks', 'secret_scanning_alerts', 'secrets', 'security_events', 'single_file',
      'statuses', 'vulnerability_alerts', 'members', 'organization_administration', 'organization_hooks',
    ].map((name) => [name, READ_WRITE]),
  ),
  repository_projects: ['read', 'write', 'admin'],
  organization_projects: ['read', 'write', 'admin'],
  workflows: ['write'],
};

/**
 * Webhook events an App may subscribe to and the permissions that make each available (any one of them), as GitHub's
 * "Webhook events and payloads" lists them for Apps: subscribing to an event without its permission is refused.
 */
const EVENTS_BY_PERMISSION: Record<string, readonly string[]> = {
  actions: ['workflow_job', 'workflow_run'],
  checks: ['check_run', 'check_suite'],
  contents: ['create', 'delete', 'push', 'release'],
  deployments: ['deployment', 'deployment_status'],
  issues: ['issue_comment', 'issues'],
  members: ['member'],
  metadata: ['label', 'public', 'repository', 'star', 'watch'],
  pull_requests: ['issue_comment', 'pull_request', 'pull_request_review', 'pull_request_review_comment', 'pull_request_review_thread'],
  statuses: ['status'],
};
/** The permissions that make each event available, in the order GitHub names them. */
const EVENT_PERMISSIONS: Record<string, readonly string[]> = {};
for (const [permission, events] of Object.entries(EVENTS_BY_PERMISSION)) {
  for (const event of events) EVENT_PERMISSIONS[event] = [...(EVENT_PERMISSIONS[event] ?? []), permission];
}

const isWebUrl = (value: unknown): value is string => {
  if (typeof value !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};
export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What GitHub says is wrong with a manifest (nothing: an empty list). The rules of "Registering a GitHub App from a
 * manifest": `url` is required; `hook_attributes` needs its `url`; `redirect_url`, `setup_url` and each of at most 10
 * `callback_urls` are URLs; `public`, `request_oauth_on_install`, `setup_on_update` and `hook_attributes.active` are
 * booleans; permissions are GitHub's names with an access each has; every event is one an App may subscribe to, with a
 * permission that makes it available. Fields GitHub does not know are ignored, as GitHub ignores them.
 */
export function manifestProblems(manifest: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (!isWebUrl(manifest.url)) problems.push('url is required: the homepage URL of the App (http or https)');
  if (manifest.name !== undefined && (typeof manifest.name !== 'string' || manifest.name.trim() === '' || manifest.name.length > MAX_NAME_LENGTH)) {
    problems.push(`name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  }
  if (manifest.description !== undefined && typeof manifest.description !== 'string') problems.push('description must be a string');
  if (manifest.hook_attributes !== undefined) {
    const hook = manifest.hook_attributes;
    if (!isObject(hook) || !isWebUrl(hook.url)) problems.push('hook_attributes.url is required with hook_attributes: the URL GitHub delivers webhooks to');
    else if (hook.active !== undefined && typeof hook.active !== 'boolean') problems.push('hook_attributes.active must be a boolean');
  }
  for (const field of ['redirect_url', 'setup_url'] as const) {
    if (manifest[field] !== undefined && !isWebUrl(manifest[field])) problems.push(`${field} must be an http or https URL`);
  }
  if (manifest.callback_urls !== undefined) {
    const urls = manifest.callback_urls;
    if (!Array.isArray(urls) || !urls.every(isWebUrl)) problems.push('callback_urls must be a list of http or https URLs');
    else if (urls.length > MAX_CALLBACK_URLS) problems.push(`callback_urls holds at most ${MAX_CALLBACK_URLS} URLs`);
  }
  for (const field of ['public', 'request_oauth_on_install', 'setup_on_update'] as const) {
    if (manifest[field] !== undefined && typeof manifest[field] !== 'boolean') problems.push(`${field} must be a boolean`);
  }
  const permissions = manifest.default_permissions ?? {};
  if (!isObject(permissions)) {
    problems.push('default_permissions must be an object of permission names and their access');
  } else {
    for (const [name, level] of Object.entries(permissions)) {
      const levels = PERMISSION_LEVELS[name];
      if (!levels) problems.push(`default_permissions: ${name} is not a permission`);
      else if (typeof level !== 'string' || !levels.includes(level)) problems.push(`default_permissions: ${name} may be ${levels.join(' or ')}, not ${JSON.stringify(level)}`);
    }
  }
  const events = manifest.default_events ?? [];
  if (!Array.isArray(events) || !events.every((e) => typeof e === 'string')) {
    problems.push('default_events must be a list of event names');
  } else {
    const granted = isObject(permissions) ? permissions : {};
    for (const event of events) {
      const needs = EVENT_PERMISSIONS[event];
      if (!needs) problems.push(`default_events: ${event} is not an event an App can subscribe to`);
      else if (!needs.some((p) => p in granted)) problems.push(`default_events: ${event} is not supported by the requested permissions (it needs ${needs.join(' or ')})`);
    }
  }
  return problems;
}

