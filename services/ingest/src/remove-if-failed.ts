import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Removes a delivery's job if, and only if, it is in the failed set, with its deduplication key, so that the job
 * can be added again under the same id: 1 when removed, 0 otherwise (any other state, or no job at all). One
 * script, so the state read and the removal cannot part. The keys removed are those BullMQ's own removal deletes
 * for a job without parent or children.
 *
 * KEYS: failed set, job hash, deduplication key, deduplication "next" key, events stream, meta.
 * ARGV: job id.
 */
const REMOVE_IF_FAILED = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local job = KEYS[2]
redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed', job .. ':failed', job .. ':unsuccessful')
redis.call('DEL', KEYS[3], KEYS[4])
local maxEvents = tonumber(redis.call('HGET', KEYS[6], 'opts.maxLenEvents')) or 10000
redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxEvents, '*', 'event', 'removed', 'jobId', ARGV[1], 'prev', 'failed')
return 1
`;

type ScriptedRedis = Redis & {
  ephemeraRemoveIfFailed(failed: string, job: string, dedup: string, dedupNext: string, events: string, meta: string, id: string): Promise<number>;
};

/** Defines the script on the connection, once, before {@link removeIfFailed} runs on it. */
export function defineRemoveIfFailed(redis: Redis): void {
  redis.defineCommand('ephemeraRemoveIfFailed', { numberOfKeys: 6, lua: REMOVE_IF_FAILED });
}

/** Removes the job `id` of `queue` with its deduplication key if it is in the failed set: 1 when removed, else 0. */
export function removeIfFailed(redis: Redis, queue: Queue, id: string): Promise<number> {
  return (redis as ScriptedRedis).ephemeraRemoveIfFailed(
    queue.toKey('failed'),
    queue.toKey(id),
    dedupKey(queue, id),
    queue.toKey(`dn:${id}`),
    queue.toKey('events'),
    queue.toKey('meta'),
    id,
  );
}

/** BullMQ's key for a deduplication id (`<prefix>:<queue>:de:<id>`). */
export function dedupKey(queue: Queue, deliveryId: string): string {
  return `${queue.toKey('de')}:${deliveryId}`;
}
