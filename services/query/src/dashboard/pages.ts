import type { z } from 'zod';
import { ENVIRONMENT_STATUSES, type DeploymentStatus, type EnvironmentAction, type deploymentResponseSchema, type environmentResponseSchema } from '@ephemera/schema';
import { registerAppNotice } from '../setup/setup-pages.js';
import { html, raw, type SafeHtml } from './html.js';

export type EnvironmentView = z.infer<typeof environmentResponseSchema>;
/**
 * A deployment as the API returns it. `waiting_for` (what a WAITING deployment waits for, as the worker wrote it:
 * "`build`, `docker / push`") and `waiting_since` are shown when the deployment's JSON carries them.
 */
export type DeploymentView = z.infer<typeof deploymentResponseSchema> & { waiting_for?: string | null; waiting_since?: string | null };

/** Element ids the live updates replace (static/dashboard.js replaces each id it is sent). */
export const LIVE_IDS = {
  rows: 'environment-rows',
  summary: 'environment-summary',
  actions: 'environment-actions',
  deployments: 'deployment-rows',
  deployment: 'deployment-summary',
} as const;

const minute = 60_000;
/** How long ago, in minutes, hours or days: coarse, so the live view does not change with every tick. */
export function ago(iso: string | null, now: number): string {
  if (!iso) return '—';
  const ms = Math.max(0, now - Date.parse(iso));
  if (ms < minute) return 'just now';
  if (ms < 60 * minute) return `${Math.floor(ms / minute)} min ago`;
  if (ms < 48 * 60 * minute) return `${Math.floor(ms / (60 * minute))} h ago`;
  return `${Math.floor(ms / (24 * 60 * minute))} d ago`;
}

function time(iso: string | null, now: number): SafeHtml {
  return iso ? html`<time datetime="${iso}" title="${iso}">${ago(iso, now)}</time>` : html`—`;
}

const isWebUrl = (url: string | null): url is string => url !== null && /^https?:\/\//i.test(url);

export function status(value: string): SafeHtml {
  return html`<span class="status status-${value.toLowerCase()}">${value}</span>`;
}

/** Deployment statuses shown in words rather than as their name (the name stays in the title). */
const DEPLOYMENT_STATUS_LABELS: Partial<Record<DeploymentStatus, string>> = { WAITING: 'Waiting for checks' };

export function deploymentStatus(value: DeploymentStatus): SafeHtml {
  const label = DEPLOYMENT_STATUS_LABELS[value];
  return label ? html`<span class="status status-${value.toLowerCase()}" title="${value}">${label}</span>` : status(value);
}

/**
 * What a WAITING deployment waits for: "Waiting for build, docker / push", each name (written between backticks by
 * the worker) as code. Nothing for any other status, or when the worker did not say.
 */
function waitingFor(d: DeploymentView): SafeHtml {
  if (d.status !== 'WAITING' || !d.waiting_for) return html``;
  const parts = d.waiting_for.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : part));
  return html` <span class="waiting-for">Waiting for ${parts}</span>`;
}

export interface Links {
  githubUrl: string;
}

const prUrl = (links: Links, e: EnvironmentView) => `${links.githubUrl}/${e.repository_full_name}/pull/${e.pr_number}`;
const commitUrl = (links: Links, repository: string, sha: string) => `${links.githubUrl}/${repository}/commit/${sha}`;

function previewLink(e: EnvironmentView): SafeHtml {
  return isWebUrl(e.environment_url) && e.status !== 'DESTROYED' ? html`<a href="${e.environment_url}">${e.environment_url.replace(/^https?:\/\//i, '')}</a>` : html`—`;
}

export function environmentRows(environments: EnvironmentView[], links: Links, now: number): SafeHtml {
  if (environments.length === 0) return html`<tr><td colspan="8" class="empty">No environments match.</td></tr>`;
  return html`${environments.map(
    (e) => html`<tr data-id="${e.id}">
<td data-label="Repository">${e.repository_full_name}</td>
<td data-label="Pull request"><a href="${prUrl(links, e)}">#${e.pr_number}</a> <a href="/environments/${e.id}">${e.pr_title ?? e.branch_name}</a></td>
<td data-label="Author">${e.owner ?? '—'}</td>
<td data-label="Status">${status(e.status)}</td>
<td data-label="Commit"><a href="${commitUrl(links, e.repository_full_name, e.commit_sha)}"><code>${e.commit_sha.slice(0, 7)}</code></a></td>
<td data-label="Preview">${previewLink(e)}</td>
<td data-label="Last deployed">${time(e.last_deployed_at, now)}</td>
<td data-label="Age">${time(e.created_at, now)}</td>
</tr>
`,
  )}`;
}

export interface ListFilters {
  repository?: string | undefined;
  status?: string | undefined;
  show: 'active' | 'all';
}

export function environmentsPage(p: { environments: EnvironmentView[]; filters: ListFilters; nextHref: string | null; links: Links; now: number; setup?: boolean }): SafeHtml {
  const { filters } = p;
  return html`<h1>Environments</h1>
${p.setup ? registerAppNotice() : ''}
<form class="filters" method="get" action="/">
<label>Repository <input name="repository" placeholder="owner/repo" value="${filters.repository ?? ''}"></label>
<label>Status <select name="status"><option value="">any</option>${ENVIRONMENT_STATUSES.map(
    (s) => html`<option${s === filters.status ? raw(' selected') : ''}>${s}</option>`,
  )}</select></label>
<label>Show <select name="show"><option value="active"${filters.show === 'active' ? raw(' selected') : ''}>active only</option><option value="all"${
    filters.show === 'all' ? raw(' selected') : ''
  }>all</option></select></label>
<button type="submit">Filter</button>
</form>
<div class="table-wrap">
<table class="environments">
<thead><tr><th scope="col">Repository</th><th scope="col">Pull request</th><th scope="col">Author</th><th scope="col">Status</th><th scope="col">Commit</th><th scope="col">Preview</th><th scope="col">Last deployed</th><th scope="col">Age</th></tr></thead>
<tbody id="${LIVE_IDS.rows}" aria-live="polite">
${environmentRows(p.environments, p.links, p.now)}
</tbody>
</table>
</div>
${p.nextHref ? html`<nav class="pages"><a rel="next" href="${p.nextHref}">Next page</a></nav>` : ''}`;
}

export function environmentSummary(e: EnvironmentView, links: Links, now: number): SafeHtml {
  return html`<dl class="fields">
<dt>Repository</dt><dd>${e.repository_full_name}</dd>
<dt>Pull request</dt><dd><a href="${prUrl(links, e)}">#${e.pr_number}</a> ${e.pr_title ?? ''}</dd>
<dt>Branch</dt><dd><code>${e.branch_name}</code></dd>
<dt>Author</dt><dd>${e.owner ?? '—'}</dd>
<dt>Status</dt><dd>${status(e.status)}</dd>
<dt>Commit</dt><dd><a href="${commitUrl(links, e.repository_full_name, e.commit_sha)}"><code>${e.commit_sha.slice(0, 7)}</code></a></dd>
<dt>Preview</dt><dd>${previewLink(e)}</dd>
<dt>Last deployed</dt><dd>${time(e.last_deployed_at, now)}</dd>
<dt>Created</dt><dd>${time(e.created_at, now)}</dd>
${e.last_action ? html`<dt>Last action</dt><dd>${e.last_action} by ${e.last_action_by ?? '?'} (${e.last_action_kind ?? '?'}) ${time(e.last_action_at, now)}</dd>` : ''}
</dl>
${e.error_message ? html`<p class="error" role="alert"><strong>Error:</strong> ${e.error_message}</p>` : ''}`;
}

function duration(d: DeploymentView): string {
  if (!d.started_at) return '—';
  const end = d.completed_at ? Date.parse(d.completed_at) : Date.now();
  const s = Math.max(0, Math.round((end - Date.parse(d.started_at)) / 1000));
  const text = s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  return d.completed_at ? text : `${text} so far`;
}

export function deploymentRows(environmentId: number, repository: string, deployments: DeploymentView[], links: Links, now: number): SafeHtml {
  if (deployments.length === 0) return html`<tr><td colspan="5" class="empty">No deployments yet.</td></tr>`;
  return html`${deployments.map(
    (d) => html`<tr>
<td data-label="Deployment"><a href="/environments/${environmentId}/deployments/${d.id}">#${d.id} logs</a></td>
<td data-label="Commit"><a href="${commitUrl(links, repository, d.commit_sha)}"><code>${d.commit_sha.slice(0, 7)}</code></a> ${d.commit_message?.split('\n')[0] ?? ''}</td>
<td data-label="Status">${deploymentStatus(d.status)}${waitingFor(d)}</td>
<td data-label="Started">${time(d.started_at, now)}</td>
<td data-label="Duration">${duration(d)}</td>
</tr>
`,
  )}`;
}

/** The buttons of the actions the viewer may take and that apply to the environment now (none: nothing). */
export function environmentActions(e: EnvironmentView, actions: readonly EnvironmentAction[], csrf: string): SafeHtml {
  if (actions.length === 0) return html``;
  return html`${actions.includes('redeploy') ? html`<form method="post" action="/api/v1/environments/${e.id}/redeploy"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Redeploy</button></form>` : ''}
${
  actions.includes('destroy')
    ? html`<form method="post" action="/api/v1/environments/${e.id}/destroy" data-confirm="Destroy the preview of ${e.repository_full_name} #${e.pr_number}? It comes back with the next push."><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="danger">Destroy</button></form>`
    : ''
}`;
}

export function environmentPage(p: {
  environment: EnvironmentView;
  deployments: DeploymentView[];
  actions: readonly EnvironmentAction[];
  csrf: string;
  notice?: string | undefined;
  /** Why an action asked for from this page did not apply. */
  alert?: string | undefined;
  links: Links;
  now: number;
}): SafeHtml {
  const e = p.environment;
  return html`<p><a href="/">← Environments</a></p>
<h1>${e.repository_full_name} #${e.pr_number}</h1>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
${p.alert ? html`<p class="error" role="alert">${p.alert}</p>` : ''}
<section id="${LIVE_IDS.summary}" aria-live="polite">
${environmentSummary(e, p.links, p.now)}
</section>
<div class="actions" id="${LIVE_IDS.actions}">${environmentActions(e, p.actions, p.csrf)}</div>
<h2>Deployments</h2>
<div class="table-wrap">
<table class="deployments">
<thead><tr><th scope="col">Deployment</th><th scope="col">Commit</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th></tr></thead>
<tbody id="${LIVE_IDS.deployments}" aria-live="polite">
${deploymentRows(e.id, e.repository_full_name, p.deployments, p.links, p.now)}
</tbody>
</table>
</div>`;
}

export function deploymentSummary(d: DeploymentView, repository: string, links: Links, now: number): SafeHtml {
  return html`<dl class="fields">
<dt>Status</dt><dd>${deploymentStatus(d.status)}${waitingFor(d)}</dd>
<dt>Commit</dt><dd><a href="${commitUrl(links, repository, d.commit_sha)}"><code>${d.commit_sha.slice(0, 7)}</code></a> ${d.commit_message?.split('\n')[0] ?? ''}</dd>
${d.status === 'WAITING' && d.waiting_since ? html`<dt>Waiting since</dt><dd>${time(d.waiting_since, now)}</dd>
` : ''}<dt>Started</dt><dd>${time(d.started_at, now)}</dd>
<dt>Duration</dt><dd>${duration(d)}</dd>
</dl>
${d.error_message ? html`<p class="error" role="alert"><strong>Error:</strong> ${d.error_message}</p>` : ''}`;
}

export function deploymentPage(p: { environment: EnvironmentView; deployment: DeploymentView; links: Links; now: number }): SafeHtml {
  const e = p.environment;
  const d = p.deployment;
  return html`<p><a href="/environments/${e.id}">← ${e.repository_full_name} #${e.pr_number}</a></p>
<h1>Deployment #${d.id}</h1>
<section id="${LIVE_IDS.deployment}" aria-live="polite">
${deploymentSummary(d, e.repository_full_name, p.links, p.now)}
</section>
<h2>Logs</h2>
<pre id="logs" class="logs" tabindex="0">${d.logs ?? ''}</pre>`;
}
