import cookieParser from 'cookie-parser';
import express, { type CookieOptions, type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '@ephemera/runtime';
import { sameToken } from '../access.js';
import { DEFAULT_LOGIN_LIMIT, limitFailedLogins, type LoginLimit } from '../login-limits.js';
import { cookieNames } from '../dashboard/cookie-names.js';
import type { SafeHtml } from '../dashboard/html.js';
import { layout } from '../dashboard/layout.js';
import { securityHeaders } from '../dashboard/security-headers.js';
import { githubAppEnvFileHasId } from './github-app-env-file.js';
import { MAX_APP_NAME_LENGTH, SETUP_CALLBACK_PATH, SETUP_PATH, defaultAppName, githubAppManifest, registrationUrl } from './github-app-manifest.js';
import { isLocalRequest, isLoopbackAddress } from './local-request.js';
import type { ManifestConversion } from './manifest-conversion.js';
import { setupCallback } from './setup-callback.js';
import { setupMessagePage, setupPage, setupTokenPage } from './setup-pages.js';
import { SETUP_STATE_TTL_MS, setupState } from './setup-state.js';

export interface SetupDeps {
  logger: Logger;
  /** GITHUB_URL: where the manifest is posted. */
  githubUrl: string;
  /** Trades GitHub's code for the App's credentials (GITHUB_API_URL). */
  conversion: ManifestConversion;
  /** GITHUB_APP_ENV_FILE: where the credentials are saved, and whose GITHUB_APP_ID means an App is configured. */
  envFile: string;
  /** PUBLIC_URL: the App's homepage, webhook (without SMEE_URL), and where GitHub sends the browser back. */
  publicUrl?: string | undefined;
  /** SMEE_URL: the App's webhook URL when set. */
  smeeUrl?: string | undefined;
  /** GITHUB_APP_ID is set in this service's environment: an App is configured, and there is nothing to set up. */
  appConfigured?: boolean | undefined;
  /** SETUP_TOKEN: when set, /setup asks for it and serves whoever has it; otherwise only this machine. */
  token?: string | undefined;
  /** NODE_ENV=production: without a token /setup is not served at all. */
  production: boolean;
  /** Signs the state cookie (SESSION_SECRET, or the process's own key). */
  cookieSecret: string;
  /** The App's name unless changed; `ephemera-<host name>` by default. */
  defaultName?: string | undefined;
  /** Wrong setup tokens per client address and window (default 10 per 15 minutes). */
  tokenLimit?: LoginLimit | undefined;
}

/** A GitHub login (an organization's): letters, digits and single hyphens, at most 39 characters. */
const ORGANIZATION = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const optionsQuery = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'the App needs a name')
    .max(MAX_APP_NAME_LENGTH, `GitHub allows ${MAX_APP_NAME_LENGTH} characters at most in an App's name`)
    .regex(/^[^\p{Cc}]+$/u, 'the name has a control character')
    .optional(),
  organization: z
    .string()
    .trim()
    .regex(new RegExp(`^$|${ORGANIZATION.source}`), 'that is not a GitHub organization name')
    .optional()
    .transform((v) => v || undefined),
});

/** Whether PUBLIC_URL names this machine, which GitHub cannot deliver webhooks to. */
function isLocalUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || isLoopbackAddress(host);
}

/** What the setup's routes share: its dependencies, its state cookie, and how it answers. */
export interface SetupContext {
  deps: SetupDeps;
  cookieName: string;
  clearOptions: CookieOptions;
  /** An App is configured (GITHUB_APP_ID, or the env file with one). */
  configured(): boolean;
  /** The state of the browser's cookie while it is good. */
  stateCookie(req: Request): string | undefined;
  /** A new state, set in the browser's cookie. */
  issueState(res: Response): string;
  send(res: Response, status: number, title: string, body: SafeHtml): Response;
  /** Answers a request from elsewhere when /setup serves only this machine. */
  notLocal(res: Response): Response;
}

function createSetupContext(deps: SetupDeps): SetupContext {
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const cookieName = cookieNames(secure).setupState;
  const cookieOptions: CookieOptions = { signed: true, httpOnly: true, secure, sameSite: 'lax', path: SETUP_PATH, maxAge: SETUP_STATE_TTL_MS };
  const send = (res: Response, status: number, title: string, body: SafeHtml) => res.status(status).type('html').send(layout(title, body));
  return {
    deps,
    cookieName,
    clearOptions: { httpOnly: true, secure, sameSite: 'lax', path: SETUP_PATH },
    configured: () => deps.appConfigured === true || githubAppEnvFileHasId(deps.envFile),
    stateCookie: (req) => {
      const value = (req.signedCookies as Record<string, unknown> | undefined)?.[cookieName];
      return typeof value === 'string' ? value : undefined;
    },
    issueState: (res) => {
      const { state, cookie } = setupState.issue();
      res.cookie(cookieName, cookie, cookieOptions);
      return state;
    },
    send,
    notLocal: (res) =>
      send(
        res,
        403,
        'Setup',
        setupMessagePage(
          'Only from this machine',
          'Registering the GitHub App is open only to the machine Ephemera runs on: open this page there (http://localhost…), or set SETUP_TOKEN on the query service to allow it from elsewhere with that token.',
          false,
        ),
      ),
  };
}

/** Lets through this machine, or (with SETUP_TOKEN) a browser that gave the token; asks for it otherwise. */
function requireAccess(ctx: SetupContext): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (ctx.deps.token === undefined) return isLocalRequest(req) ? next() : ctx.notLocal(res);
    // The state cookie is issued only to a browser that gave the token.
    return setupState.read(ctx.stateCookie(req)) !== undefined ? next() : ctx.send(res, 200, 'Setup', setupTokenPage());
  };
}

/** `GET /setup`: what will be registered, and the form posting the manifest to GitHub. */
function setupPageRoute(ctx: SetupContext): RequestHandler {
  const { deps } = ctx;
  return (req, res) => {
    if (deps.publicUrl === undefined) {
      return ctx.send(res, 503, 'Setup', setupMessagePage('PUBLIC_URL is not set', 'Registering the GitHub App needs the address GitHub sends people back to: set PUBLIC_URL on the query service (npm start sets it) and restart.', false));
    }
    const parsed = optionsQuery.safeParse(req.query);
    const options = parsed.success ? parsed.data : { name: undefined, organization: undefined };
    const error = parsed.success ? undefined : parsed.error.issues[0]!.message;
    const state = setupState.read(ctx.stateCookie(req)) ?? ctx.issueState(res);
    const manifest = githubAppManifest({ name: options.name ?? deps.defaultName ?? defaultAppName(), publicUrl: deps.publicUrl, smeeUrl: deps.smeeUrl });
    const warnings =
      deps.smeeUrl === undefined && isLocalUrl(deps.publicUrl)
        ? [
            `GitHub cannot deliver webhooks to ${manifest.hook_attributes.url}, an address of this machine: set SMEE_URL to a channel from https://smee.io/new (npm start forwards it to ingest) and restart, or change the App's webhook URL on GitHub later.`,
          ]
        : [];
    return ctx.send(
      res,
      parsed.success ? 200 : 400,
      'Register the GitHub App',
      setupPage({ manifest, organization: options.organization, registrationUrl: registrationUrl(deps.githubUrl, options.organization, state), envFile: deps.envFile, warnings, error }),
    );
  };
}

/** `POST /setup` (with SETUP_TOKEN): the token's form, wrong tokens rate-limited per address. */
function setupTokenRoute(ctx: SetupContext, router: Router, token: string): void {
  const given = (req: Request) => (req.body as { token?: unknown } | undefined)?.token;
  const limiter = limitFailedLogins(
    (req) => sameToken(given(req), token),
    ctx.deps.tokenLimit ?? DEFAULT_LOGIN_LIMIT,
    (req) => given(req) !== undefined,
    (_req, res, seconds) => ctx.send(res, 429, 'Setup', setupTokenPage(`Too many wrong tokens from this address: try again in ${seconds} s.`)),
  );
  router.post(SETUP_PATH, express.urlencoded({ extended: false, limit: '8kb' }), limiter, (req, res) => {
    if (!sameToken(given(req), token)) return ctx.send(res, 401, 'Setup', setupTokenPage('That is not the setup token.'));
    ctx.issueState(res);
    return res.redirect(303, SETUP_PATH);
  });
}

/**
 * `/setup`: registers Ephemera's GitHub App through GitHub's App manifest flow, and saves its credentials to the env
 * file `npm start` reads. Served only while no App is configured (GITHUB_APP_ID, or the file with one: 404 after), only
 * to this machine unless SETUP_TOKEN is set (then to whoever gives it), and in production only with SETUP_TOKEN.
 *
 * - `GET /setup`: what will be registered, and the form posting the manifest to GitHub with a `state` bound to this
 *   browser by a cookie (signed, HttpOnly, SameSite=Lax since GitHub's redirect back is a top-level GET, Path=/setup,
 *   Secure under https), good for an hour.
 * - `POST /setup` (with SETUP_TOKEN): the token's form, rate-limited per address.
 * - `GET /setup/callback?code=…&state=…`: the state checked (constant time, once: the cookie is cleared), the code
 *   converted (`POST /app-manifests/{code}/conversions`), the credentials saved (never logged, never shown).
 *
 * `offered(req)` says whether the dashboard should offer the link to this visitor.
 */
export function createSetup(deps: SetupDeps) {
  const ctx = createSetupContext(deps);
  /** Served at all: nothing configured yet, and in production only with a token. */
  const served = () => (deps.token !== undefined || !deps.production) && !ctx.configured();

  const router = express.Router();
  router.use(SETUP_PATH, (req, res, next) => {
    // In production without a token there is no setup at all: the same 404 as any unknown path.
    if (deps.production && deps.token === undefined) return next('router');
    return next();
  });
  router.use(SETUP_PATH, securityHeaders([new URL(deps.githubUrl).origin]), cookieParser(deps.cookieSecret), (_req, res, next) => {
    if (!ctx.configured()) return next();
    return ctx.send(res, 404, 'Not found', setupMessagePage('Nothing to set up', 'A GitHub App is configured already (GITHUB_APP_ID, or the file /setup saves it to).', false));
  });
  router.get(SETUP_PATH, requireAccess(ctx), setupPageRoute(ctx));
  if (deps.token !== undefined) setupTokenRoute(ctx, router, deps.token);
  router.get(SETUP_CALLBACK_PATH, setupCallback(ctx));

  return {
    router,
    /** Whether the dashboard offers "Register the GitHub App" to this visitor: /setup would serve them. */
    offered: (req: Request) => served() && (deps.token !== undefined || isLocalRequest(req)),
  };
}
