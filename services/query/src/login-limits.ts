import type { Request, Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import { constantTimeEqual } from '@ephemera/runtime';
import { secondsUntil } from './access.js';
import { problem } from './problem.js';

/** Tells whether a request carries the admin's credentials (Bull Board's basic auth, the operator's sign-in form). */
export type CredentialCheck = (req: Request) => boolean;

/**
 * A check of the operator's sign-in form (fields `username` and `password`, already parsed), compared like the
 * basic-auth credentials: hashed, in constant time.
 */
export function formCredentials(username: string, password: string): CredentialCheck {
  const expected = `${username}:${password}`;
  return (req) => {
    const body = req.body as { username?: unknown; password?: unknown } | undefined;
    return typeof body?.username === 'string' && typeof body.password === 'string' && constantTimeEqual(`${body.username}:${body.password}`, expected);
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
 * Rate-limits failed logins (Bull Board's basic auth, the dashboard's operator form, /setup's token) per client
 * address (express-rate-limit's memory store, so per process).
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
