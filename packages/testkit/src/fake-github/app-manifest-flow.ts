import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { accountOf, nodeIdOf, type AccountType } from './account-of.js';
import { MAX_NAME_LENGTH, isObject, manifestProblems } from './manifest-problems.js';

/** A GitHub App registered from a manifest, with everything GitHub hands back once (its secrets and key). */
export interface ManifestApp {
  id: number;
  slug: string;
  name: string;
  owner: { login: string; type: AccountType };
  /** The manifest as the form posted it (JSON-parsed). */
  manifest: Record<string, unknown>;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  /** The private key, PKCS#1 PEM as GitHub gives it. */
  pem: string;
  permissions: Record<string, string>;
  events: string[];
  /** Where the fake's App page is (its base URL + `/apps/<slug>`), as `html_url` in GitHub's answers. */
  htmlUrl: string;
  createdAt: string;
}

/** What a page of the flow answers: an HTML page, or a redirect. */
export type ManifestPage = { status: 200 | 400 | 404 | 422; html: string } | { status: 302; location: string };

/** The manifest code lives an hour, as GitHub documents ("the code expires after one hour"). */
const CODE_TTL_MS = 3600_000;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
// No favicon: a browser would otherwise ask the fake for one, and log its 404.
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${escape(title)} · GitHub</title></head><body>${body}</body></html>`;

/** A new App's private key: RSA 2048, PKCS#1 PEM, as GitHub gives it. */
async function newPrivateKey(): Promise<string> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

const slugOf = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

/**
 * GitHub's App manifest flow: the registration page takes a `manifest` posted to `/settings/apps/new` (or
 * `/organizations/{org}/settings/apps/new`) with a `state` in the URL, shows what will be registered with the name
 * editable, and on "Create GitHub App" registers it and sends the browser to `redirect_url` with a `code` and the
 * `state`. `POST /app-manifests/{code}/conversions` trades the code, once and within the hour, for the App with its
 * credentials. Time is the fake GitHub's clock.
 */
export class AppManifestFlow {
  readonly apps: ManifestApp[] = [];
  private nextAppId = 900_001;
  private readonly pending = new Map<string, { manifest: Record<string, unknown>; state: string | null; owner: { login: string; type: AccountType } }>();
  private readonly codes = new Map<string, { app: ManifestApp; expiresAt: number; used: boolean }>();
  /**
   * The key of the next App, made ahead in the thread pool: an RSA key takes a noticeable part of a second, which a
   * test would otherwise wait for at "Create GitHub App". Made on first use of the flow, then one ahead.
   */
  private nextKey: Promise<string> | undefined;

  constructor(
    private readonly now: () => number,
    /** The fake's own base URL, which stands for github.com in the pages' links. */
    private readonly webUrl: () => string,
  ) {}

  /**
   * The registration page for a posted manifest, for the signed-in person (`signedIn`) or the organization `org`.
   * Nobody signed in: GitHub would ask them to sign in first; the fake refuses.
   */
  registrationPage(form: Record<string, unknown> | null, query: URLSearchParams, signedIn: string | null, org: string | null): ManifestPage {
    if (!signedIn) return { status: 400, html: page('Sign in', '<p>Nobody is signed in to the fake GitHub: call setOAuthUser(login) before registering an App.</p>') };
    const text = form?.manifest;
    if (typeof text !== 'string') return { status: 422, html: page('Invalid manifest', '<h1>Invalid GitHub App manifest</h1><p>No manifest was posted (the form field is <code>manifest</code>).</p>') };
    let manifest: unknown;
    try {
      manifest = JSON.parse(text);
    } catch {
      return { status: 422, html: page('Invalid manifest', '<h1>Invalid GitHub App manifest</h1><p>The manifest is not JSON.</p>') };
    }
    if (!isObject(manifest)) return { status: 422, html: page('Invalid manifest', '<h1>Invalid GitHub App manifest</h1><p>The manifest must be a JSON object.</p>') };
    const problems = manifestProblems(manifest);
    if (problems.length > 0) return { status: 422, html: this.problemsPage(problems) };
    const id = randomBytes(8).toString('hex');
    const owner = org ? { login: org, type: 'Organization' as const } : { login: signedIn, type: 'User' as const };
    this.pending.set(id, { manifest, state: query.get('state'), owner });
    this.nextKey ??= newPrivateKey();
    const name = typeof manifest.name === 'string' ? manifest.name : '';
    return {
      status: 200,
      html: page(
        'Create GitHub App',
        `<h1>Create GitHub App from a manifest</h1>
<p>Owner: <strong id="owner">${escape(owner.login)}</strong></p>
<form method="post" action="/settings/apps/new/${id}">
<label>GitHub App name <input name="name" value="${escape(name)}" maxlength="${MAX_NAME_LENGTH}" required></label>
<pre id="manifest">${escape(JSON.stringify(manifest, null, 2))}</pre>
<button type="submit">Create GitHub App for ${escape(owner.login)}</button>
</form>`,
      ),
    };
  }

  /**
   * "Create GitHub App": registers the pending manifest under the (possibly edited) name and sends the browser back;
   * says which App it registered, if any.
   */
  async create(pendingId: string, form: Record<string, unknown> | null): Promise<{ page: ManifestPage; app?: ManifestApp }> {
    const pending = this.pending.get(pendingId);
    if (!pending) return { page: { status: 404, html: page('Not Found', '<p>No such registration in progress.</p>') } };
    const name = typeof form?.name === 'string' && form.name.trim() !== '' ? form.name.trim() : typeof pending.manifest.name === 'string' ? pending.manifest.name : '';
    const problems = manifestProblems({ ...pending.manifest, name });
    if (!name) problems.push('name is required');
    if (this.apps.some((a) => a.slug === slugOf(name))) problems.push(`name ${name} is already in use`);
    if (problems.length > 0) return { page: { status: 422, html: this.problemsPage(problems) } };
    this.pending.delete(pendingId);
    const privateKey = await (this.nextKey ?? newPrivateKey());
    this.nextKey = newPrivateKey();
    const slug = slugOf(name);
    const app: ManifestApp = {
      id: this.nextAppId++,
      slug,
      name,
      owner: pending.owner,
      manifest: pending.manifest,
      clientId: `Iv23li${randomBytes(7).toString('hex')}`,
      clientSecret: randomBytes(20).toString('hex'),
      webhookSecret: randomBytes(20).toString('hex'),
      pem: privateKey,
      // GitHub grants metadata to every App, asked for or not.
      permissions: { metadata: 'read', ...(pending.manifest.default_permissions as Record<string, string> | undefined) },
      events: [...((pending.manifest.default_events as string[] | undefined) ?? [])],
      htmlUrl: `${this.webUrl()}/apps/${slug}`,
      createdAt: new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    this.apps.push(app);
    const redirect = pending.manifest.redirect_url;
    if (typeof redirect !== 'string') return { app, page: { status: 200, html: page(app.name, `<h1>${escape(app.name)}</h1><p>Registered. App ID: ${app.id}</p>`) } };
    // Hex, as GitHub's codes are.
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, { app, expiresAt: this.now() + CODE_TTL_MS, used: false });
    const back = new URL(redirect);
    back.searchParams.set('code', code);
    if (pending.state !== null) back.searchParams.set('state', pending.state);
    return { app, page: { status: 302, location: back.toString() } };
  }

  /**
   * `POST /app-manifests/{code}/conversions`: the App with its credentials, for a code given out within the hour and not
   * traded before; null otherwise (GitHub answers 404).
   */
  convert(code: string): Record<string, unknown> | null {
    const grant = this.codes.get(code);
    if (!grant || grant.used || grant.expiresAt <= this.now()) return null;
    grant.used = true;
    const { app } = grant;
    return {
      id: app.id,
      slug: app.slug,
      node_id: nodeIdOf('Integration', app.id),
      client_id: app.clientId,
      owner: accountOf(app.owner.login, app.owner.type),
      name: app.name,
      description: typeof app.manifest.description === 'string' ? app.manifest.description : null,
      external_url: app.manifest.url,
      html_url: app.htmlUrl,
      created_at: app.createdAt,
      updated_at: app.createdAt,
      permissions: app.permissions,
      events: app.events,
      installations_count: 0,
      client_secret: app.clientSecret,
      webhook_secret: app.webhookSecret,
      pem: app.pem,
    };
  }

  private problemsPage(problems: string[]): string {
    return page('Invalid manifest', `<h1>Invalid GitHub App manifest</h1><ul id="problems">${problems.map((p) => `<li>${escape(p)}</li>`).join('')}</ul>`);
  }
}
