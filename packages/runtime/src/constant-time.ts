import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();

/**
 * Whether two secrets are equal, in constant time. Both are hashed first, so the comparison runs over two values
 * of the same length and the time taken does not show the secret's length either.
 *
 * @example constantTimeEqual(givenToken, process.env.SETUP_TOKEN)
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The index of the last candidate equal to `given`, or -1, compared like {@link constantTimeEqual}. Every candidate is
 * compared, so the time taken does not tell which of them matched, or how far the loop went.
 */
export function constantTimeIndexOf(candidates: readonly (string | Buffer)[], given: string | Buffer): number {
  const g = digest(given);
  let found = -1;
  candidates.forEach((candidate, i) => {
    if (timingSafeEqual(g, digest(candidate))) found = i;
  });
  return found;
}

/** Whether `given` is one of the candidates, every one of them compared in constant time. */
export function constantTimeIncludes(candidates: readonly (string | Buffer)[], given: string | Buffer): boolean {
  return constantTimeIndexOf(candidates, given) !== -1;
}
