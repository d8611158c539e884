import type { Exchange } from './exchange.js';
import type { FakeGithubState } from './fake-github-state.js';

/**
 * Answers a request the fake refuses before any endpoint sees it: within a rate limit the tests started (as GitHub
 * answers a primary or secondary limit), one of the failures the tests asked for, or a body that is not JSON.
 * Returns whether it did.
 */
export function refused(state: FakeGithubState, ex: Exchange): boolean {
  const limit = state.rateLimits.find((r) => (r.until === null || r.until > Date.now()) && (!r.method || r.method === ex.req.method) && r.path.test(ex.path));
  if (limit) {
    limit.until ??= Date.now() + limit.wait * 1000;
    const left = Math.max(1, Math.ceil((limit.until - Date.now()) / 1000));
    if (limit.kind === 'primary') {
      return ex.send(403, { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' }, {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': '5000',
        'x-ratelimit-reset': String(Math.ceil(limit.until / 1000)),
      });
    }
    return ex.send(
      limit.kind === '429' ? 429 : 403,
      { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' },
      { 'retry-after': String(left) },
    );
  }
  const failure = state.failures.find((f) => f.count > 0 && f.pattern.test(ex.path));
  if (failure) {
    failure.count--;
    return ex.send(failure.status, { message: `fake failure ${failure.status}`, documentation_url: 'https://docs.github.com/rest' });
  }
  if (ex.unparsable) return ex.send(400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/rest', status: '400' });
  return false;
}
