import type { Exchange } from '../exchange.js';
import type { FakeGithubState } from '../fake-github-state.js';
import type { ManifestPage } from '../app-manifest-flow.js';

/** Registering a GitHub App from a manifest: the registration page, its button, and the code's conversion. */
export function appManifestRoutes(state: FakeGithubState, ex: Exchange): boolean {
  if (ex.method !== 'POST') return false;
  const registration = /^(?:\/organizations\/([^/]+))?\/settings\/apps\/new(?:\/([0-9a-f]+))?$/.exec(ex.path);
  const answer = (outcome: ManifestPage) => (outcome.status === 302 ? ex.redirect(outcome.location) : ex.sendHtml(outcome.status, outcome.html));
  if (registration && !registration[2]) {
    const org = registration[1] ? decodeURIComponent(registration[1]) : null;
    return answer(state.manifests.registrationPage(ex.body, ex.query, state.oauth.signedInLogin, org));
  }
  if (registration) {
    void state.manifests.create(registration[2]!, ex.body).then(({ page, app }) => {
      // GitHub delivers to the App it just registered, signed with its secret.
      const hook = app?.manifest.hook_attributes as { url: string; active?: boolean } | undefined;
      if (app && hook && hook.active !== false) state.webhook = { url: hook.url, secret: app.webhookSecret };
      answer(page);
    });
    return true;
  }
  const m = /^\/app-manifests\/([^/]+)\/conversions$/.exec(ex.path);
  if (!m) return false;
  // No authentication: the code itself is the credential, good once.
  const app = state.manifests.convert(decodeURIComponent(m[1]!));
  if (!app) return ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest', status: '404' });
  return ex.send(201, app);
}
