/** What a BullMQ queue offers that {@link RenewingQueue} needs (structural: this package does not depend on BullMQ). */
export interface ReadyCheckedQueue {
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A producer's BullMQ queue, made again when its start-up failed. BullMQ checks the server once when a queue is
 * made; if Redis goes away during that check on a connection that fails fast (a producer's), the queue keeps the
 * failure and every add rejects with it for good, while the connection itself recovers. `usable()` replaces such a
 * queue: the call that finds it fails (its caller answers 503, nothing stored) and the next one uses the new queue.
 *
 * @example const actions = new RenewingQueue(() => new Queue('ephemera-actions', { connection })); await (await actions.usable()).add(...)
 */
export class RenewingQueue<Q extends ReadyCheckedQueue> {
  private current: Q;

  constructor(
    private readonly make: () => Q,
    private readonly onRenewed?: (err: Error) => void,
  ) {
    this.current = make();
  }

  /** The queue as it is now (for reads and keys; adds go through {@link usable}). */
  get queue(): Q {
    return this.current;
  }

  async usable(): Promise<Q> {
    const queue = this.current;
    try {
      await queue.waitUntilReady();
      return queue;
    } catch (err) {
      if (this.current === queue) {
        this.current = this.make();
        void queue.close().catch(() => undefined);
        this.onRenewed?.(err as Error);
      }
      throw err;
    }
  }

  close(): Promise<void> {
    return this.current.close();
  }
}
