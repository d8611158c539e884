import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import { problem } from './problem.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares against every candidate in constant time (hashing first evens out the lengths). */
function matchesAny(given: string, candidates: readonly Buffer[]): boolean {
  const g = digest(given);
  let match = false;
  for (const c of candidates) match = timingSafeEqual(g, c) || match;
  return match;
}

/**
 * Whether `given` (from a request: any type) is the expected token, compared in constant time (hashed first, so the
 * lengths do not show); never when there is no expected token.
 */
export function sameToken(given: unknown, expected: string | undefined): boolean {
  if (typeof given !== 'string' || !expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** A Host header that can stand in a URL's authority: a name or address and an optional port. */
export const AUTHORITY = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** `token`: API_TOKENS are required. `none`: the API is open, which applies only while there are no tokens. */
export type ApiAuth = 'token' | 'none';

/** The bearer token of an Authorization header, or undefined when there is none or it is not `Bearer <token>`. */
function bearerToken(req: Request): string | undefined {
  return req.get('authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

function askForToken(res: Response, detail: string): void {
  res.set('WWW-Authenticate', 'Bearer realm="ephemera"');
  problem(res, 401, 'Unauthorized', detail);
}

/**
 * Bearer-token guard for the API's reads. No or malformed Authorization: 401. A token that is not one of the
 * tokens: 403. `writeTokens` (API_WRITE_TOKENS) may read as well. Open only when there are no read tokens and
 * `auth` is `none` (given read tokens always apply); no token of either kind otherwise is a programming error,
 * which configuration validation keeps from happening.
 */
export function requireApiToken(tokens: readonly string[], auth: ApiAuth = 'token', writeTokens: readonly string[] = []) {
  if (tokens.length === 0 && writeTokens.length === 0 && auth !== 'none') {
    throw new Error('requireApiToken: no API tokens; pass auth "none" to serve the API without authentication on purpose');
  }
  const open = tokens.length === 0 && auth === 'none';
  const hashed = [...tokens, ...writeTokens].map(digest);
  return (req: Request, res: Response, next: NextFunction) => {
    if (open) return next();
    const token = bearerToken(req);
    if (token === undefined) return askForToken(res, 'an API token is required: Authorization: Bearer <token>');
    if (!matchesAny(token, hashed)) return problem(res, 403, 'Forbidden', 'the API token is not valid');
    return next();
  };
}

/**
 * What job data and logs name a write token by, since it has no name of its own: a few hex digits of its SHA-256,
 * enough to tell an operator's tokens apart and far too few to recover the token (which configuration requires
 * to be long in production).
 */
function tokenLogin(token: string): string {
  return `token:${digest(token).toString('hex').slice(0, 6)}`;
}

/**
 * Guard of the API's actions: only a token of API_WRITE_TOKENS passes, whatever API_AUTH says, and the requester
 * it stands for is left in `res.locals.requester` for the job. No or malformed Authorization: 401. Any other
 * token, a read token of API_TOKENS included: 403. Without write tokens every request is refused, so the actions
 * are closed unless they were given on purpose. A token in both lists is a programming error, which configuration
 * validation keeps from happening: which of the two it is would depend on the order of the checks.
 */
export function requireWriteToken(writeTokens: readonly string[], readTokens: readonly string[] = []) {
  const readSet = new Set(readTokens);
  if (writeTokens.some((t) => readSet.has(t))) throw new Error('requireWriteToken: a token is both a read and a write token');
  const candidates = writeTokens.map((token) => ({ hash: digest(token), requester: { kind: 'token' as const, login: tokenLogin(token) } }));
  const readHashed = readTokens.map(digest);
  return (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req);
    if (token === undefined) return askForToken(res, 'this action needs a write token: Authorization: Bearer <one of API_WRITE_TOKENS>');
    const given = digest(token);
    // Every candidate is compared, so the time taken does not tell which of them matched, or how far the loop went.
    let found: (typeof candidates)[number] | undefined;
    for (const c of candidates) if (timingSafeEqual(given, c.hash)) found = c;
    if (found) {
      res.locals.requester = found.requester;
      return next();
    }
    if (candidates.length === 0) {
      return problem(res, 403, 'Forbidden', 'the write API is off: the service has no API_WRITE_TOKENS');
    }
    return problem(res, 403, 'Forbidden', matchesAny(token, readHashed) ? 'this API token can only read: actions need one of API_WRITE_TOKENS' : 'the API token is not valid');
  };
}

export interface ActionLimit {
  /** Actions a write token may ask for within the window; the next one gets 429. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_ACTION_LIMIT: ActionLimit = { limit: 30, windowMs: 60_000 };

/**
 * Rate-limits the actions per write token (express-rate-limit's memory store, so per process), after
 * {@link requireWriteToken}: a leaked token can queue only so much work for the worker before it is revoked.
 * Every action asked for counts, those for unknown environments and those that do not apply too, since each
 * costs the database a read.
 */
export function limitActions({ limit, windowMs }: ActionLimit = DEFAULT_ACTION_LIMIT): RateLimitRequestHandler {
  return rateLimit({
    windowMs,
    limit,
    keyGenerator: (_req, res) => (res.locals.requester as { login: string } | undefined)?.login ?? 'anonymous',
    standardHeaders: false,
    legacyHeaders: false,
    handler: (req, res) => {
      const seconds = secondsUntil((req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime, windowMs);
      res.set('Retry-After', String(seconds));
      problem(res, 429, 'Too Many Requests', `too many actions with this token: try again in ${seconds} s`);
    },
  });
}

/** Whole seconds until `resetTime` (a window from now when unknown), at least one, for Retry-After. */
function secondsUntil(resetTime: Date | undefined, windowMs: number): number {
  return Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1000));
}

/** Tells whether a request carries the admin's basic-auth credentials. */
type CredentialCheck = (req: Request) => boolean;

/** A check of the dashboard's basic-auth credentials (both are required: without them it is not served). */
export function basicCredentials(username: string, password: string): CredentialCheck {
  const expected = [digest(`${username}:${password}`)];
  return (req) => {
    const match = req.get('authorization')?.match(/^Basic\s+([A-Za-z0-9+/=]+)$/i);
    return match !== null && match !== undefined && matchesAny(Buffer.from(match[1]!, 'base64').toString('utf8'), expected);
  };
}

/**
 * A check of the operator's sign-in form (fields `username` and `password`, already parsed), compared like the
 * basic-auth credentials: hashed, in constant time.
 */
export function formCredentials(username: string, password: string): CredentialCheck {
  const expected = [digest(`${username}:${password}`)];
  return (req) => {
    const body = req.body as { username?: unknown; password?: unknown } | undefined;
    return typeof body?.username === 'string' && typeof body.password === 'string' && matchesAny(`${body.username}:${body.password}`, expected);
  };
}

/** HTTP basic auth for the dashboard: 401 with a challenge unless the request carries the credentials. */
export function requireBasicAuth(check: CredentialCheck) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (check(req)) return next();
    res.set('WWW-Authenticate', 'Basic realm="ephemera queues", charset="UTF-8"');
    return problem(res, 401, 'Unauthorized', 'the queue dashboard needs the admin user name and password');
  };
}

export interface LoginLimit {
  /** Failed logins allowed per client address within the window; the next attempt gets 429. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { limit: 10, windowMs: 15 * 60_000 };

/**
 * Failed sign-ins on the dashboard's operator form per client address: loose, since the form's guard against guessing
 * is the back-off per username (OperatorBackOff), and a strict limit would let failures under other usernames from a
 * shared address (an office, a proxy) lock the operator out.
 */
export const DEFAULT_SIGN_IN_ADDRESS_LIMIT: LoginLimit = { limit: 50, windowMs: 3600_000 };

/**
 * Rate-limits failed dashboard logins per client address (express-rate-limit's memory store, so per process).
 * Counted: requests whose Authorization header does not carry the credentials. Not counted: requests without an
 * Authorization header (the browser's first request, answered with a challenge), and correct logins while the
 * client is under its limit. Once a client is over it, every attempt with an Authorization header gets 429 with
 * Retry-After, correct ones too, so the answers tell a guesser nothing until the window ends.
 */
export function limitFailedLogins(
  check: CredentialCheck,
  { limit, windowMs }: LoginLimit = DEFAULT_LOGIN_LIMIT,
  /** Whether a request is a login attempt at all; by default, one with an Authorization header. */
  attempted: (req: Request) => boolean = (req) => req.get('authorization') !== undefined,
  /** Answers a client over its limit (after Retry-After is set); by default a problem document. */
  refuse: (req: Request, res: Response, seconds: number) => void = (_req, res, seconds) =>
    problem(res, 429, 'Too Many Requests', `too many failed logins from this address: try again in ${seconds} s`),
): RateLimitRequestHandler {
  // req.ip honours the app's `trust proxy` setting; IPv6 clients are grouped by /56 as the library recommends.
  const clientKey = (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  const limiter: RateLimitRequestHandler = rateLimit({
    windowMs,
    limit,
    keyGenerator: clientKey,
    standardHeaders: false,
    legacyHeaders: false,
    skip: async (req) => {
      if (!attempted(req)) return true;
      if (!check(req)) return false;
      const seen = await limiter.getKey(clientKey(req));
      return seen === undefined || seen.totalHits < limit;
    },
    // Counted requests stay counted only when they end as a failed login; a 429 does not extend the count.
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    handler: (req, res) => {
      const seconds = secondsUntil((req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime, windowMs);
      res.set('Retry-After', String(seconds));
      refuse(req, res, seconds);
    },
  });
  return limiter;
}

/** True when `source` (an Origin or Referer) is an http(s) URL whose host is the request's Host header. */
function fromSameHost(source: string | undefined, host: string | undefined): boolean {
  if (!source || !host || !AUTHORITY.test(host)) return false;
  try {
    const url = new URL(source);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    // Parsed under the same scheme, so a default port written out (":443", ":80") or not compares equal.
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Guards the dashboard's changes (every method but GET and HEAD): refused (403) unless writes are allowed
 * (ADMIN_WRITE=true), and then only from the same origin: an Origin header, or lacking one a Referer, whose host
 * is the request's Host header. Browsers send Origin with every such request, so a page elsewhere cannot make a
 * logged-in browser retry or remove jobs.
 */
export function guardAdminWrites(allowWrites: boolean) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    if (!allowWrites) {
      return problem(res, 403, 'Forbidden', 'the queue dashboard is read-only: set ADMIN_WRITE=true to change queues and jobs from it');
    }
    const source = req.get('origin') ?? req.get('referer');
    if (!fromSameHost(source, req.headers.host)) {
      return problem(res, 403, 'Forbidden', 'changes to the queues must come from the dashboard\'s own origin: the Origin (or Referer) header must name this host');
    }
    return next();
  };
}
