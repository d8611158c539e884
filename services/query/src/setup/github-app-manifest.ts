import { hostname } from 'node:os';
import { GITHUB_APP_EVENTS, GITHUB_APP_PERMISSIONS, WEBHOOK_PATH, type GithubAppAccess } from '@ephemera/schema';
import { GITHUB_SIGN_IN_CALLBACK_PATH } from '../dashboard/github-sign-in.js';

export const SETUP_PATH = '/setup';
/** Where GitHub sends the browser back with the manifest's code: the manifest's `redirect_url`. */
export const SETUP_CALLBACK_PATH = '/setup/callback';
/** GitHub's limit on a GitHub App's name. */
export const MAX_APP_NAME_LENGTH = 34;

/**
 * A GitHub App manifest, in the fields of GitHub's "Registering a GitHub App from a manifest" that Ephemera sets.
 * Posted to GitHub as the form field `manifest` (JSON).
 */
export interface GithubAppManifest {
  name: string;
  /** The App's homepage: the dashboard. */
  url: string;
  description: string;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  /** "Sign in with GitHub" to the dashboard returns here. */
  callback_urls: string[];
  public: boolean;
  default_permissions: Record<string, GithubAppAccess>;
  default_events: string[];
  request_oauth_on_install: boolean;
}

const base = (url: string) => url.replace(/\/+$/, '');

/**
 * The App's default name: `ephemera-` and this machine's host name, as GitHub would make a slug of it, cut to GitHub's
 * length limit (a name must be unique on GitHub, and this one tells installations on different machines apart).
 */
export function defaultAppName(host = hostname()): string {
  const slug = host
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `ephemera${slug ? `-${slug}` : ''}`.slice(0, MAX_APP_NAME_LENGTH).replace(/-+$/, '');
}

/**
 * Where GitHub delivers the App's webhooks: the smee.io channel when there is one (`npm start` forwards it to the local
 * ingest), else ingest's path at the public address (the Ingress routes it to ingest).
 */
export function webhookUrl(publicUrl: string, smeeUrl: string | undefined): string {
  return smeeUrl ?? `${base(publicUrl)}${WEBHOOK_PATH}`;
}

/**
 * The manifest of Ephemera's GitHub App at `publicUrl` (PUBLIC_URL): exactly the permissions and events of
 * {@link GITHUB_APP_PERMISSIONS} and {@link GITHUB_APP_EVENTS}, private (installable only on its owner's account), the
 * webhook at {@link webhookUrl}, GitHub sending the browser back to /setup/callback, and the dashboard's GitHub sign-in
 * callback.
 *
 * @example githubAppManifest({ name: 'ephemera-laptop', publicUrl: 'http://localhost:3002', smeeUrl: 'https://smee.io/abc' })
 */
export function githubAppManifest(p: { name: string; publicUrl: string; smeeUrl?: string | undefined }): GithubAppManifest {
  const url = base(p.publicUrl);
  return {
    name: p.name,
    url,
    description: `Preview environments for pull requests, by the Ephemera at ${url}.`,
    hook_attributes: { url: webhookUrl(url, p.smeeUrl), active: true },
    redirect_url: `${url}${SETUP_CALLBACK_PATH}`,
    callback_urls: [`${url}${GITHUB_SIGN_IN_CALLBACK_PATH}`],
    public: false,
    default_permissions: { ...GITHUB_APP_PERMISSIONS },
    default_events: [...GITHUB_APP_EVENTS],
    request_oauth_on_install: false,
  };
}

/**
 * GitHub's page that registers an App from a posted manifest: the person's own account, or the organization's, with
 * the `state` GitHub hands back with the code.
 */
export function registrationUrl(githubUrl: string, organization: string | undefined, state: string): string {
  const owner = organization ? `/organizations/${encodeURIComponent(organization)}` : '';
  return `${base(githubUrl)}${owner}/settings/apps/new?${new URLSearchParams({ state })}`;
}
