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

/** A Host header that can stand in a URL's authority: a name or address and an optional port. */
export const AUTHORITY = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** `token`: API_TOKENS are required. `none`: the API is open, which applies only while there are no tokens. */
export type ApiAuth = 'token' | 'none';

/**
 * Bearer-token guard for the API. No or malformed Authorization: 401. A token that is not one of the tokens: 403.
 * Open only when there are no tokens and `auth` is `none` (given tokens always apply); no tokens otherwise is a
 * programming error, which configuration validation keeps from happening.
 */
export function requireApiToken(tokens: readonly string[], auth: ApiAuth = 'token') {
  if (tokens.length === 0 && auth !== 'none') {
    throw new Error('requireApiToken: no API tokens; pass auth "none" to serve the API without authentication on purpose');
  }
  const hashed = tokens.map(digest);
  return (req: Request, res: Response, next: NextFunction) => {
    if (hashed.length === 0) return next();
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer realm="ephemera"');
      return problem(res, 401, 'Unauthorized', 'an API token is required: Authorization: Bearer <token>');
    }
    if (!matchesAny(match[1]!, hashed)) return problem(res, 403, 'Forbidden', 'the API token is not valid');
    return next();
  };
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
 * Rate-limits failed dashboard logins per client address (express-rate-limit's memory store, so per process).
 * Counted: requests whose Authorization header does not carry the credentials. Not counted: requests without an
 * Authorization header (the browser's first request, answered with a challenge), and correct logins while the
 * client is under its limit. Once a client is over it, every attempt with an Authorization header gets 429 with
 * Retry-After, correct ones too, so the answers tell a guesser nothing until the window ends.
 */
export function limitFailedLogins(check: CredentialCheck, { limit, windowMs }: LoginLimit = DEFAULT_LOGIN_LIMIT): RateLimitRequestHandler {
  // req.ip honours the app's `trust proxy` setting; IPv6 clients are grouped by /56 as the library recommends.
  const clientKey = (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  const limiter: RateLimitRequestHandler = rateLimit({
    windowMs,
    limit,
    keyGenerator: clientKey,
    standardHeaders: false,
    legacyHeaders: false,
    skip: async (req) => {
      if (req.get('authorization') === undefined) return true;
      if (!check(req)) return false;
      const seen = await limiter.getKey(clientKey(req));
      return seen === undefined || seen.totalHits < limit;
    },
    // Counted requests stay counted only when they end as a failed login; a 429 does not extend the count.
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    handler: (req, res) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1000));
      res.set('Retry-After', String(seconds));
      problem(res, 429, 'Too Many Requests', `too many failed logins from this address: try again in ${seconds} s`);
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
