import type { Redis } from 'ioredis';

/**
 * Why ingest settled a delivery without storing a job although its event is one Ephemera acts on: `ignored` (its
 * account is outside ALLOWED_ACCOUNTS) or `invalid` (refused with 400 after its signature held). Such a delivery is
 * not lost, and asking GitHub for it again would be answered the same.
 */
export type SettledOutcome = 'ignored' | 'invalid';

function settledKey(prefix: string, deliveryId: string): string {
  return `${prefix}:settled-deliveries:${deliveryId}`;
}

/**
 * Records a delivery ingest settled (under QUEUE_PREFIX), for `ttlSeconds`: longer than GitHub keeps a delivery to
 * redeliver. The worker's redelivery pass reads it with {@link settledDeliveries}.
 */
export async function recordSettledDelivery(redis: Redis, prefix: string, deliveryId: string, outcome: SettledOutcome, ttlSeconds: number): Promise<void> {
  await redis.set(settledKey(prefix, deliveryId), outcome, 'EX', ttlSeconds);
}

/** The deliveries among `deliveryIds` that ingest recorded as settled. */
export async function settledDeliveries(redis: Redis, prefix: string, deliveryIds: readonly string[]): Promise<Set<string>> {
  if (deliveryIds.length === 0) return new Set();
  const found = await redis.mget(deliveryIds.map((id) => settledKey(prefix, id)));
  return new Set(deliveryIds.filter((_, i) => found[i] !== null));
}
