import type { Request, Response } from 'express';
import { problem } from '../problem.js';
import type { DashboardContext } from './dashboard-context.js';
import { MAX_STREAMS_PER_SESSION, type StreamLease } from './stream-limits.js';
import { viewerOf } from './viewer-guard.js';
import { readViewer, type Viewer } from './viewer.js';

/** A comment line now and then keeps proxies from closing a quiet event stream. */
const KEEP_ALIVE_MS = 15_000;

/** Writes an event of its own (a log line, the end of the stream) to the stream. */
export type LiveWrite = (event: string, data: unknown) => void;
/** The markup of each live element as the viewer may see it now; `gone` when they may no longer see it. */
export type LiveRender = (viewer: Viewer, write: LiveWrite) => Promise<Record<string, string> | null | 'gone'>;

/** One poll of a stream: the session read again, the stream ended or the changed markup sent. */
class LiveStream {
  private last = '';
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = Date.now();

  constructor(
    private readonly ctx: DashboardContext,
    private readonly req: Request,
    private readonly res: Response,
    private readonly lease: StreamLease,
    private readonly render: LiveRender,
  ) {
    res.on('close', () => {
      this.closed = true;
      clearTimeout(this.timer);
      lease.release().catch((err: Error) => ctx.logger.warn({ err: { message: err.message } }, 'could not free a live view\'s place'));
    });
  }

  private readonly write: LiveWrite = (event, data) => {
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  private end(event: string): void {
    this.write(event, {});
    this.closed = true;
    this.res.end();
  }

  private async poll(): Promise<void> {
    const viewer = await readViewer(this.ctx, this.req);
    if (!viewer) return this.end('signed-out');
    if (viewer.unavailable) return this.end('unavailable');
    await this.lease.renew();
    const parts = await this.render(viewer, (event, data) => {
      this.write(event, data);
      this.lastWrite = Date.now();
    });
    if (parts === 'gone') return this.end('gone');
    const text = JSON.stringify(parts ?? {});
    if (parts && text !== this.last) {
      this.res.write(`data: ${text}\n\n`);
      this.last = text;
      this.lastWrite = Date.now();
    } else if (Date.now() - this.lastWrite > KEEP_ALIVE_MS) {
      this.res.write(': keep-alive\n\n');
      this.lastWrite = Date.now();
    }
  }

  readonly tick = async (): Promise<void> => {
    try {
      await this.poll();
    } catch (err) {
      this.ctx.logger.warn({ err: { message: (err as Error).message } }, 'live update failed');
    } finally {
      if (!this.closed) this.timer = setTimeout(() => void this.tick(), this.ctx.livePollMs);
    }
  };
}

/**
 * Server-Sent Events: every poll interval `render` gives the markup of each live element as the viewer may see it
 * now, and it is sent when it differs from what was sent last. The session, and with it what GitHub says the person
 * reaches, is read again on every poll: a sign-out (or its expiry) ends the stream with `signed-out`, access to what
 * it shows withdrawn (`render` says `gone`) with `gone`, GitHub's answer grown too old with `unavailable`. A stream
 * takes one of the session's places and one of the service's (429 past either), freed when it ends.
 */
export async function liveEvents(ctx: DashboardContext, req: Request, res: Response, render: LiveRender) {
  const lease = await ctx.deps.streams.acquire(viewerOf(res).session.id);
  if (typeof lease === 'string') {
    res.set('Retry-After', '10');
    return problem(
      res,
      429,
      'Too Many Requests',
      lease === 'session' ? `at most ${MAX_STREAMS_PER_SESSION} live views per session: close another page of the dashboard` : 'too many live views on this server: try again shortly',
    );
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  // The first poll sends the current state, so a change made while the page loaded is not missed.
  void new LiveStream(ctx, req, res, lease, render).tick();
}
