import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Live views (event streams) one session may have open at once, across every replica. */
export const MAX_STREAMS_PER_SESSION = 4;
/**
 * How long a stream's place is held without being renewed: a replica that dies with streams open frees their places
 * this long after, while a live stream renews well within it.
 */
const LEASE_MS = 30_000;

/**
 * Takes a place for a stream of one session: drops places whose lease ran out, then adds this one if the session has
 * fewer than its limit. KEYS[1]: the session's places (a sorted set of stream ids by lease end). ARGV: now, lease
 * (ms), limit, stream id. 1: taken; 0: the session is at its limit.
 */
const ACQUIRE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

export type StreamRefusal = 'session' | 'total';

/** A stream's place: renewed while it runs, released when it ends. */
export interface StreamLease {
  /** Keeps the place (it is written again at most once per third of the lease). */
  renew(): Promise<void>;
  release(): Promise<void>;
}

/**
 * The limits on the dashboard's live views: {@link MAX_STREAMS_PER_SESSION} per session, counted in Redis so that
 * the replicas together hold to it, and `total` (DASHBOARD_MAX_STREAMS) in this process, each stream being a timer
 * that reads the database every poll. A session's count is a sorted set of leases, so places held by a process that
 * died are freed when their lease ends.
 *
 * @example const lease = await limits.acquire(session.id); if (typeof lease === 'string') answer429(lease);
 */
export class StreamLimits {
  private open = 0;
  private readonly perSession: number;
  readonly total: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    limits: { total: number; perSession?: number },
  ) {
    this.total = limits.total;
    this.perSession = limits.perSession ?? MAX_STREAMS_PER_SESSION;
  }

  private key(sessionId: string): string {
    return `${this.prefix}:dashboard-streams:${createHash('sha256').update(sessionId).digest('hex')}`;
  }

  /** A place for a new stream of the session, or which limit refuses it. */
  async acquire(sessionId: string): Promise<StreamLease | StreamRefusal> {
    if (this.open >= this.total) return 'total';
    // Counted before Redis is asked, so streams opened at the same moment cannot all pass the check.
    this.open++;
    const key = this.key(sessionId);
    const id = randomBytes(12).toString('base64url');
    let taken: unknown;
    try {
      taken = await this.redis.eval(ACQUIRE, 1, key, Date.now(), LEASE_MS, this.perSession, id);
    } catch (err) {
      this.open--;
      throw err;
    }
    if (Number(taken) !== 1) {
      this.open--;
      return 'session';
    }
    let renewedAt = Date.now();
    let released = false;
    return {
      renew: async () => {
        if (released || Date.now() - renewedAt < LEASE_MS / 3) return;
        renewedAt = Date.now();
        await this.redis.multi().zadd(key, 'XX', renewedAt + LEASE_MS, id).pexpire(key, LEASE_MS).exec();
      },
      release: async () => {
        if (released) return;
        released = true;
        this.open--;
        await this.redis.zrem(key, id);
      },
    };
  }
}
