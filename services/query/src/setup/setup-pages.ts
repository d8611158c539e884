import type { GithubAppPermission } from '@ephemera/schema';
import { html, type SafeHtml } from '../dashboard/html.js';
import { MAX_APP_NAME_LENGTH, SETUP_PATH, type GithubAppManifest } from './github-app-manifest.js';

/** What GitHub's settings page calls each permission. */
const PERMISSION_LABELS: Record<GithubAppPermission, string> = {
  pull_requests: 'Pull requests',
  statuses: 'Commit statuses',
  deployments: 'Deployments',
  contents: 'Contents',
  metadata: 'Metadata',
  checks: 'Checks',
  actions: 'Actions',
};

const ACCESS_LABELS = { read: 'read', write: 'read & write' } as const;

/** The offer the dashboard's front page makes while no App is configured. */
export function registerAppNotice(): SafeHtml {
  return html`<p class="notice setup-offer">No GitHub App is configured yet: <a href="${SETUP_PATH}">Register the GitHub App</a> in one click.</p>`;
}

/**
 * What will be registered, the form that changes its name and owner (a GET of this page), and the form that posts the
 * manifest to GitHub: plain HTML forms, so it works without JavaScript and under a policy without inline scripts.
 */
export function setupPage(p: {
  manifest: GithubAppManifest;
  organization: string | undefined;
  /** Where the manifest is posted (GitHub's registration page, with the state). */
  registrationUrl: string;
  envFile: string;
  warnings: readonly string[];
  error?: string | undefined;
}): SafeHtml {
  const m = p.manifest;
  return html`<h1>Register the GitHub App</h1>
<p>Ephemera acts on GitHub as a GitHub App. <strong>Create on GitHub</strong> registers one with the settings below;
GitHub then sends you back here with its credentials, which are saved to <code>${p.envFile}</code>.</p>
${p.error ? html`<p class="error" role="alert">${p.error}</p>` : ''}
${p.warnings.map((w) => html`<p class="error setup-warning" role="alert">${w}</p>`)}
<form class="filters setup-options" method="get" action="${SETUP_PATH}">
<label>App name <input name="name" value="${m.name}" maxlength="${MAX_APP_NAME_LENGTH}" required></label>
<label>Organization <input name="organization" value="${p.organization ?? ''}" placeholder="your own account" autocomplete="off"></label>
<button type="submit">Change</button>
</form>
<h2>What will be created</h2>
<dl class="fields">
<dt>Name</dt><dd id="app-name">${m.name}</dd>
<dt>Owner</dt><dd id="app-owner">${p.organization ? html`the organization <strong>${p.organization}</strong>` : 'your GitHub account'}</dd>
<dt>Homepage</dt><dd>${m.url}</dd>
<dt>Webhook URL</dt><dd><code id="webhook-url">${m.hook_attributes.url}</code></dd>
<dt>Sign-in callback</dt><dd><code>${m.callback_urls.join(', ')}</code></dd>
<dt>Visibility</dt><dd>private: only its owner can install it</dd>
</dl>
<h3>Repository permissions</h3>
<div class="table-wrap">
<table class="permissions">
<thead><tr><th scope="col">Permission</th><th scope="col">Access</th></tr></thead>
<tbody>
${Object.entries(m.default_permissions).map(
  ([name, access]) => html`<tr data-permission="${name}"><td>${PERMISSION_LABELS[name as GithubAppPermission] ?? name} (<code>${name}</code>)</td><td>${ACCESS_LABELS[access]}</td></tr>
`,
)}</tbody>
</table>
</div>
<h3>Events</h3>
<ul class="events">${m.default_events.map((e) => html`<li><code>${e}</code></li>`)}</ul>
<form class="setup-create" method="post" action="${p.registrationUrl}">
<input type="hidden" name="manifest" value="${JSON.stringify(m)}">
<button type="submit">Create on GitHub</button>
</form>`;
}

/** SETUP_TOKEN's form: this page is open only to those who have it. */
export function setupTokenPage(error?: string): SafeHtml {
  return html`<h1>Register the GitHub App</h1>
<p>Registering the GitHub App needs the setup token (<code>SETUP_TOKEN</code> of the query service).</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form class="sign-in" method="post" action="${SETUP_PATH}">
<label>Setup token <input name="token" type="password" autocomplete="off" required></label>
<button type="submit">Continue</button>
</form>`;
}

/** The App is registered and its credentials saved: restart, then install it. */
export function setupDonePage(p: { name: string; envFile: string; installUrl: string }): SafeHtml {
  return html`<h1>GitHub App registered</h1>
<p class="notice" role="status">The GitHub App <strong id="app-name">${p.name}</strong> is registered, and its credentials are saved to
<code>${p.envFile}</code>.</p>
<ol>
<li><strong>Restart Ephemera</strong> (Ctrl-C, then <code>npm start</code>): it reads the file when it starts.</li>
<li><a class="button" id="install" href="${p.installUrl}">Install the App</a> on the repositories that should get previews.</li>
</ol>`;
}

/** Any other outcome: a heading, what happened, and the way back to the start. */
export function setupMessagePage(heading: string, text: string, restart = true): SafeHtml {
  return html`<h1>${heading}</h1><p>${text}</p>${restart ? html`<p><a href="${SETUP_PATH}">Start again</a></p>` : ''}`;
}
