import { randomBytes } from 'node:crypto';
import { sameToken } from '../access.js';

/** How long a setup's `state` is good for: as long as GitHub's code (an hour). */
export const SETUP_STATE_TTL_MS = 3600_000;

/**
 * The `state` of one registration, bound to the browser that began it: its cookie holds the state and when it was
 * made (signed, so neither can be changed), and GitHub hands the state back with the code.
 */
export const setupState = {
  /** A new state, and the cookie value that holds it. */
  issue(now = Date.now()): { state: string; cookie: string } {
    const state = randomBytes(24).toString('base64url');
    return { state, cookie: `${state}.${now}` };
  },

  /** The state a cookie value holds while it is good (not older than {@link SETUP_STATE_TTL_MS}); undefined otherwise. */
  read(cookie: string | undefined, now = Date.now()): string | undefined {
    const match = /^([A-Za-z0-9_-]{32})\.(\d{1,16})$/.exec(cookie ?? '');
    if (!match) return undefined;
    const age = now - Number(match[2]);
    return age >= 0 && age < SETUP_STATE_TTL_MS ? match[1] : undefined;
  },

  /** Whether the state GitHub handed back is the cookie's, compared in constant time. */
  matches(given: unknown, cookie: string | undefined, now = Date.now()): boolean {
    return sameToken(given, setupState.read(cookie, now));
  },
};
