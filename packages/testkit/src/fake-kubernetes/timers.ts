/** The fake API server's timers: none keeps the process alive, and every one dies with the server. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private closed = false;

  schedule(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.pending.delete(t);
      if (!this.closed) fn();
    }, ms);
    t.unref();
    this.pending.add(t);
  }

  /** The server closes: pending timers are dropped and no new one starts. */
  close(): void {
    this.closed = true;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
