import { fileURLToPath } from 'node:url';
import cookieParser from 'cookie-parser';
import express, { type CookieOptions, type Request, type RequestHandler, type Response } from 'express';
import type { Queryable } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import type { LoginLimit } from '../login-limits.js';
import { cookieNames } from './cookie-names.js';
import type { GithubSignIn } from './github-sign-in.js';
import type { SafeHtml } from './html.js';
import type { OperatorBackOff } from './operator-back-off.js';
import { layout } from './layout.js';
import type { Links } from './pages.js';
import type { AccessRefresh } from './refresh-access.js';
import type { SessionStore } from './session-store.js';
import type { StreamLimits } from './stream-limits.js';

export interface DashboardDeps {
  db: Queryable;
  sessions: SessionStore;
  logger: Logger;
  /** Signs the session cookie (SESSION_SECRET). */
  sessionSecret: string;
  /** SESSION_HOURS. */
  sessionHours: number;
  /** PUBLIC_URL; an https address makes the cookies Secure and `__Host-` prefixed. */
  publicUrl?: string | undefined;
  /** GITHUB_URL, for links to pull requests and commits. */
  githubUrl: string;
  /** "Sign in with GitHub"; off without it. */
  github?: GithubSignIn | undefined;
  /** The operator's sign-in form (ADMIN_USERNAME, ADMIN_PASSWORD, unless ADMIN_SIGN_IN=off); off without it. */
  operator?: { username: string; password: string } | undefined;
  /** Failed operator sign-ins per client address and window (default `DEFAULT_SIGN_IN_ADDRESS_LIMIT`). */
  loginLimit?: LoginLimit | undefined;
  /** Failed operator sign-ins per username, shared by the replicas. */
  operatorBackOff: OperatorBackOff;
  /** The live views' limits (per session, and DASHBOARD_MAX_STREAMS in this process). */
  streams: StreamLimits;
  /** How long what GitHub said a person reaches is used before it is asked again (DASHBOARD_ACCESS_SECONDS). */
  accessTtlMs?: number | undefined;
  /** How often live views look for changes. */
  livePollMs?: number | undefined;
  /** Whether the front page offers this visitor "Register the GitHub App" (/setup serves them, no App is configured). */
  setupOffered?: ((req: Request) => boolean) | undefined;
}

/** DASHBOARD_ACCESS_SECONDS' default. */
const DEFAULT_ACCESS_TTL_MS = 60_000;
const DEFAULT_LIVE_POLL_MS = 1_000;
export const STATIC_DIR = fileURLToPath(new URL('../../static/', import.meta.url));

/** What the dashboard's modules share: its dependencies, cookie names and settings, and the request parsers. */
export interface DashboardContext {
  deps: DashboardDeps;
  db: Queryable;
  sessions: SessionStore;
  logger: Logger;
  links: Links;
  names: ReturnType<typeof cookieNames>;
  sessionMs: number;
  livePollMs: number;
  refresher: AccessRefresh;
  /** Signed, HttpOnly, SameSite=Lax cookies for the whole site, Secure under https. */
  cookieOptions(maxAge: number): CookieOptions;
  /** Cleared with the attributes they were set with: a browser replaces a __Host- cookie only with a Secure one. */
  clearOptions: CookieOptions;
  cookies: RequestHandler;
  form: RequestHandler;
}

export function createDashboardContext(deps: DashboardDeps): DashboardContext {
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const { db, sessions, logger } = deps;
  return {
    deps,
    db,
    sessions,
    logger,
    links: { githubUrl: deps.githubUrl.replace(/\/$/, '') },
    names: cookieNames(secure),
    sessionMs: deps.sessionHours * 3600_000,
    livePollMs: deps.livePollMs ?? DEFAULT_LIVE_POLL_MS,
    refresher: { github: deps.github, sessions, ttlMs: deps.accessTtlMs ?? DEFAULT_ACCESS_TTL_MS, logger },
    cookieOptions: (maxAge) => ({ signed: true, httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge }),
    clearOptions: { httpOnly: true, secure, sameSite: 'lax', path: '/' },
    cookies: cookieParser(deps.sessionSecret),
    form: express.urlencoded({ extended: false, limit: '8kb' }),
  };
}

/** The value of a signed cookie of the request, or undefined (absent, or its signature does not hold). */
export function signedCookie(req: Request, name: string): string | undefined {
  const value = (req.signedCookies as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Answers with a page of the dashboard. */
export function sendPage(res: Response, status: number, title: string, body: SafeHtml, options: Parameters<typeof layout>[2] = {}) {
  return res.status(status).type('html').send(layout(title, body, options));
}

/** Whether the front page offers this visitor "Register the GitHub App". */
export const setupOffered = (ctx: DashboardContext, req: Request) => ctx.deps.setupOffered?.(req) ?? false;
