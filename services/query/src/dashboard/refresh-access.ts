import type { Logger } from '@ephemera/runtime';
import { GithubSignInError, type GithubSignIn } from './github-sign-in.js';
import type { Session, SessionStore } from './session-store.js';

/**
 * The oldest answer of GitHub's the dashboard shows anything by: past it, while GitHub does not answer, pages say
 * GitHub is unavailable and show nothing (they fail closed rather than go on with what someone could reach long ago).
 */
export const STALE_ACCESS_LIMIT_MS = 5 * 60_000;
/**
 * After GitHub failed to answer, how long before it is asked again (at most the cache's own lifetime), so that pages
 * and live views do not pile requests onto a GitHub that is already failing.
 */
const ACCESS_RETRY_MS = 60_000;

/**
 * What a session's record of GitHub's answer is worth now. `current`: within its lifetime, or just asked again.
 * `stale`: GitHub did not answer, and the last answer is under {@link STALE_ACCESS_LIMIT_MS} old. `unavailable`: older
 * than that. `revoked`: GitHub no longer accepts the person's token.
 */
export type AccessState = 'current' | 'stale' | 'unavailable' | 'revoked';

export interface AccessRefresh {
  github: GithubSignIn | undefined;
  sessions: SessionStore;
  /** How long an answer is used before GitHub is asked again (DASHBOARD_ACCESS_SECONDS). */
  ttlMs: number;
  logger: Logger;
}

/**
 * Brings what GitHub said a person reaches up to date, asking GitHub with their token once the answer is older than
 * `ttlMs` (and not while a pause after a failure runs), and says what the session's answer is worth. An operator's
 * session reaches everything and is always `current`. The session is saved when its answer changed.
 */
export async function refreshAccess(session: Session, { github, sessions, ttlMs, logger }: AccessRefresh, now = Date.now()): Promise<AccessState> {
  if (session.kind !== 'github') return 'current';
  const last = session.access ?? { fetchedAt: 0, repositories: [] };
  if (now - last.fetchedAt < ttlMs) return 'current';
  const byAge = (): AccessState => (now - last.fetchedAt > STALE_ACCESS_LIMIT_MS ? 'unavailable' : 'stale');
  if (!github || !session.githubToken || (last.retryAt !== undefined && now < last.retryAt)) return byAge();
  try {
    session.access = await github.access(session.githubToken);
    await sessions.save(session);
    return 'current';
  } catch (err) {
    // A token GitHub no longer accepts (revoked, or the App uninstalled by the person) ends the session.
    if (err instanceof GithubSignInError && err.status === 401) return 'revoked';
    logger.warn({ err: { message: (err as Error).message }, login: session.login }, 'could not refresh what GitHub says a person reaches');
    session.access = { ...last, retryAt: now + Math.min(ACCESS_RETRY_MS, ttlMs) };
    await sessions.save(session);
    return byAge();
  }
}
