import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Failed sign-ins under one username that cost nothing; from the next one on, every attempt waits. */
export const OPERATOR_FREE_FAILURES = 10;

export interface BackOffTimes {
  /** The wait after the {@link OPERATOR_FREE_FAILURES}th failure; each further failure doubles it. */
  baseMs: number;
  /** The longest wait. */
  maxMs: number;
  /** Failures are forgotten this long after the last one (and at once by a sign-in). */
  forgetMs: number;
}

export const DEFAULT_BACK_OFF: BackOffTimes = { baseMs: 1_000, maxMs: 15 * 60_000, forgetMs: 24 * 3600_000 };

/**
 * Claims an attempt atomically, counting it as a failure before the password is checked, so that attempts sent at
 * once cannot all be checked before the first failure is recorded. Returns 0 when the attempt may be checked, or how
 * many milliseconds remain to wait (the attempt is then neither checked nor counted).
 * KEYS[1]: the username's record. ARGV: now, free failures, base, max, forget (ms).
 */
const CLAIM = `
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local untilAt = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untilAt > now then return untilAt - now end
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') + 1
local wait = 0
if failures >= free then wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (failures - free)) end
redis.call('HSET', KEYS[1], 'failures', failures, 'until', string.format('%.0f', now + wait))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', tonumber(ARGV[5]) + wait))
return 0
`;

/**
 * Failed operator sign-ins counted per username, in Redis so every replica of the query service shares the count.
 * Fewer than {@link OPERATOR_FREE_FAILURES} cost nothing (an operator's typos); from the {@link OPERATOR_FREE_FAILURES}th
 * on, every attempt under that username waits, the right password too, for a time that doubles with each further
 * failure (1 s, 2 s, 4 s, … at most 15 min by default). Guessing one username from many addresses is therefore slow,
 * while failures under other usernames never touch the operator's. Usernames are kept as their SHA-256 only.
 *
 * @example const wait = await backOff.claim(username); if (wait > 0) refuse(wait); else if (ok) await backOff.succeeded(username);
 */
export class OperatorBackOff {
  private readonly times: BackOffTimes;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    times: Partial<BackOffTimes> = {},
  ) {
    this.times = { ...DEFAULT_BACK_OFF, ...times };
  }

  private key(username: string): string {
    return `${this.prefix}:operator-sign-in:${createHash('sha256').update(username).digest('hex')}`;
  }

  /**
   * An attempt to sign in as `username`: 0 when its password may be checked now (it counts as a failure unless
   * {@link succeeded} follows), or the milliseconds left to wait, during which no attempt is checked.
   */
  async claim(username: string): Promise<number> {
    const { baseMs, maxMs, forgetMs } = this.times;
    const wait = await this.redis.eval(CLAIM, 1, this.key(username), Date.now(), OPERATOR_FREE_FAILURES, baseMs, maxMs, forgetMs);
    return Math.max(0, Math.ceil(Number(wait)));
  }

  /** The password was right: the username's failures are forgotten. */
  async succeeded(username: string): Promise<void> {
    await this.redis.del(this.key(username));
  }
}
