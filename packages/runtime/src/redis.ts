import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections the way BullMQ wants them.
 *
 * - `producer`: fails fast. No offline queue, one retry per command, short connect timeout: a web handler must
 *   answer 503 within its bound instead of waiting for Redis to come back.
 * - `worker`: blocking commands must never time out (`maxRetriesPerRequest: null`), and reconnects go on forever.
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'producer'
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
          retryStrategy: (times) => Math.min(times * 200, 2_000),
        }
      : {
          maxRetriesPerRequest: null,
          enableReadyCheck: true,
          retryStrategy: (times) => Math.min(times * 200, 5_000),
        };
  return new Redis(url, { lazyConnect: false, ...options, ...extra });
}

/** PING with a time bound; false on any error or when it takes too long. */
export async function redisReachable(redis: Redis, timeoutMs = 1_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const pong = await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return pong === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
