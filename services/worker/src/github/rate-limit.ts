/**
 * How long GitHub asks to wait, for a primary or secondary rate limit (403 or 429 with `retry-after`, or
 * `x-ratelimit-remaining: 0` with `x-ratelimit-reset`); null for any other error.
 */
export function rateLimitWait(err: unknown, now = Date.now()): number | null {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
  if (e.status !== 403 && e.status !== 429) return null;
  const headers = e.response?.headers ?? {};
  const retryAfter = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) return Math.max(1_000, retryAfter * 1000);
  const reset = Number(headers['x-ratelimit-reset']);
  if (headers['x-ratelimit-remaining'] === '0' && Number.isFinite(reset)) return Math.max(1_000, reset * 1000 - now + 1_000);
  // A secondary limit without retry-after: GitHub asks for at least a minute.
  if (e.status === 429 || /secondary rate limit/i.test(e.message ?? '')) return 60_000;
  return null;
}

