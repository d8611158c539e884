import type { Logger } from 'pino';

/** Anything that emits `error`: ioredis clients, BullMQ queues, workers and queue events. */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** Errors already written, so one error passed on by several emitters is one line. */
const logged = new WeakSet<object>();

/**
 * Logs every `error` the emitter emits, as a warning. An emitter without an `error` listener throws the error
 * from `emit` (a crash far from its cause), and a no-op listener hides a Redis outage from the logs.
 *
 * BullMQ queues re-emit the errors of the connection they are given, so during an outage the client and each
 * queue on it emit the same Error object: it is logged once, by the first listener that sees it (attach the
 * connection's before creating the queues, so the line names the connection).
 *
 * @example logErrors(redis, logger, 'redis connection error')
 * @example logErrors(queue, logger.child({ queue: queue.name }), 'queue error')
 */
export function logErrors(emitter: ErrorEmitter, logger: Logger, message: string): void {
  emitter.on('error', (err: Error) => {
    if (typeof err === 'object' && err !== null) {
      if (logged.has(err)) return;
      logged.add(err);
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    logger.warn({ err: { message: err instanceof Error ? err.message : String(err), ...(code === undefined ? {} : { code }) } }, message);
  });
}
