import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger, SettledOutcome } from '@ephemera/runtime';
import { AccountAllowList, DELIVERY_ID, PayloadError, WEBHOOK_PATH, deliveryAccount, trimWebhookPayload, type WebhookJob } from '@ephemera/schema';
import { DEFAULT_MAX_INFLIGHT_BYTES } from './config.js';
import type { IngestMetrics } from './metrics.js';
import type { SignatureVerifier } from './signature-verifier.js';
import { EnqueueTimeoutError, type WebhookSink } from './webhook-queue.js';

// The path is the App's too (its webhook URL, which /setup registers): defined with the App's other settings.
export { WEBHOOK_PATH };
/** GitHub caps webhook payloads at 25 MB; anything larger cannot be a genuine delivery. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** Seconds a refused delivery should wait before it is sent again (503 Retry-After). */
export const RETRY_AFTER_SECONDS = 10;
const EVENT_NAME = /^[a-z][a-z_]{0,63}$/;
/** `application/json`, with parameters or not (GitHub sends it bare). */
const JSON_CONTENT_TYPE = /^\s*application\/json\s*(?:;|$)/i;

interface IngestDeps {
  verifier: SignatureVerifier;
  queue: WebhookSink;
  logger: Logger;
  metrics: IngestMetrics;
  /** INGEST_MAX_INFLIGHT_BYTES: bytes of request bodies read or held at once; 64 MiB when not given. */
  maxInflightBytes?: number;
  /** ALLOWED_ACCOUNTS: the GitHub accounts whose deliveries are queued; every account's when not given. */
  allowedAccounts?: AccountAllowList;
}

interface Delivery {
  deliveryId?: string;
  event?: string;
  action?: string;
  repository?: string;
  outcome: string;
}

/**
 * The ingest HTTP app, not listening: `createServer(createApp(deps))` in main, supertest in the tests.
 * A 2xx means the delivery is in Redis (or deliberately not needed there: ignored, duplicate, ping).
 */
export function createApp(deps: IngestDeps): express.Express {
  const { verifier, queue, logger, metrics } = deps;
  const budget = new InflightBudget(deps.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES);
  metrics.setInflightBytes(() => budget.used);
  const allowed = deps.allowedAccounts ?? AccountAllowList.ANY;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // The webhook route comes first and is one handler: it is the route that answers thousands of times a second,
  // and every router layer and `next()` in front of it costs each delivery a few microseconds.
  app.post(WEBHOOK_PATH, (req, res, next) => {
    const started = process.hrtime.bigint();
    const delivery: Delivery = { outcome: 'rejected' };
    res.locals.delivery = delivery;
    res.on('finish', () => {
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.requests.inc({ route: 'webhook', status: String(res.statusCode) });
      logger.info(
        {
          delivery_id: delivery.deliveryId,
          event: delivery.event,
          action: delivery.action,
          repository: delivery.repository,
          outcome: delivery.outcome,
          status: res.statusCode,
          latency_ms: Math.round(latencyMs * 100) / 100,
        },
        'delivery',
      );
    });

    // Headers first, so a request that is wrong from the start is refused before its body is kept.
    const refusal = checkHeaders(req, delivery);
    if (refusal) {
      if (refusal.status === 401) metrics.signatureFailures.inc();
      return afterBody(req, res, () => fail(res, refusal.status, refusal.error, refusal.message));
    }
    // Read by hand rather than with express.raw or raw-body: the body is only ever used as the bytes that were
    // signed (so none of their type, charset and decompression handling applies; a compressed body is refused
    // above), and every byte kept counts against the in-flight budget until the request is answered or closed.
    const length = Number(req.headers['content-length'] ?? NaN);
    const declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    if (declared !== undefined && declared > MAX_BODY_BYTES) return afterBody(req, res, () => tooLarge(res));
    let held = 0;
    const release = () => {
      budget.release(held);
      held = 0;
    };
    res.on('close', release);
    if (declared !== undefined) {
      if (!budget.take(declared, held)) {
        refuseBusy(delivery);
        return afterBody(req, res, () => busy(res));
      }
      held = declared;
    }
    readBody(req, {
      // A body without Content-Length (chunked) counts as its bytes arrive.
      take: declared === undefined ? (n) => budget.take(n, held) && ((held += n), true) : () => true,
      dropped(reason) {
        release();
        if (reason === 'busy') refuseBusy(delivery);
      },
      done(outcome) {
        if (res.headersSent || res.destroyed) return;
        if (outcome === 'too-large') return tooLarge(res);
        if (outcome === 'busy') return busy(res);
        if (outcome === 'aborted') return;
        admit(outcome, req.headers['x-hub-signature-256'] as string, delivery)
          .then(async (admitted) => {
            if (admitted.job) return store(res, admitted.job, delivery);
            if (admitted.settled) await settle(delivery.deliveryId!, admitted.settled);
            admitted.answer(res);
          })
          .catch(next);
      },
    });
  });

  /** Counted when decided: the bodies being read already take the whole in-flight budget. */
  function refuseBusy(delivery: Delivery): void {
    delivery.outcome = 'busy';
    metrics.inflightRefusals.inc();
  }

  /**
   * Verifies, parses and trims one body. A function of its own so that the 24 KB body, its text and the parsed
   * payload are garbage once it returns, rather than held by the handler while the job waits on Redis.
   */
  async function admit(body: Buffer, signature: string, delivery: Delivery): Promise<Admitted> {
    if (body.length === 0) return refuse(400, 'empty_body', 'request body is empty');
    if (!isUtf8(body)) return refuse(400, 'invalid_encoding', 'request body is not valid UTF-8');
    const text = body.toString('utf8');
    if (!(await verifier.verify(text, signature))) {
      metrics.signatureFailures.inc();
      return refuse(401, 'invalid_signature', 'X-Hub-Signature-256 does not match the body and secret');
    }

    // From here on the delivery is GitHub's (its signature holds): one refused now is refused for good, and is
    // recorded as settled so that the redelivery pass never asks for it again.
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return settled(refuse(400, 'invalid_json', 'request body is not valid JSON'));
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      return settled(refuse(400, 'invalid_json', 'request body must be a JSON object'));
    }
    const p = payload as { action?: unknown; repository?: { full_name?: unknown }; zen?: unknown };
    if (typeof p.action === 'string') delivery.action = p.action;
    if (typeof p.repository?.full_name === 'string') delivery.repository = p.repository.full_name;

    const event = delivery.event!;
    const deliveryId = delivery.deliveryId!;
    if (event === 'ping') {
      delivery.outcome = 'pong';
      metrics.deliveries.inc({ event, outcome: 'pong' });
      const zen = typeof p.zen === 'string' ? p.zen : undefined;
      return { answer: (res) => reply(res, 200, { delivery_id: deliveryId, status: 'pong', zen }) };
    }

    let job;
    try {
      job = trimWebhookPayload({ event, deliveryId, receivedAt: new Date() }, payload);
    } catch (err) {
      if (err instanceof PayloadError) return settled(refuse(400, 'invalid_payload', err.message));
      throw err;
    }
    // An event Ephemera does not act on needs no record: the redelivery pass never asks for one.
    if (job === null) return ignored(event, deliveryId, delivery);
    const account = deliveryAccount(job);
    if (!allowed.allows(account)) {
      logger.info({ delivery_id: deliveryId, event, account }, `delivery from ${account} ignored: not in ALLOWED_ACCOUNTS`);
      return { ...ignored(event, deliveryId, delivery), settled: 'ignored' };
    }
    return { job };
  }

  /**
   * Records a delivery answered without a job as settled. Best effort, within the enqueue bound: the answer is the
   * same either way, and a record that could not be written costs at most a redelivery, answered the same again.
   */
  async function settle(deliveryId: string, outcome: SettledOutcome): Promise<void> {
    try {
      await queue.settle(deliveryId, outcome);
    } catch (err) {
      logger.warn({ err: errorSummary(err), delivery_id: deliveryId }, 'could not record the delivery as settled; the redelivery pass may ask for it again');
    }
  }

  /** Deliveries verified but not acted on: 202 `ignored`, counted, nothing stored. */
  function ignored(event: string, deliveryId: string, delivery: Delivery): Answer {
    delivery.outcome = 'ignored';
    metrics.deliveries.inc({ event, outcome: 'ignored' });
    return { answer: (res) => reply(res, 202, { delivery_id: deliveryId, status: 'ignored' }) };
  }

  async function store(res: Response, job: WebhookJob, delivery: Delivery): Promise<void> {
    const event = job.event;
    const stopTimer = metrics.enqueueSeconds.startTimer();
    try {
      const outcome = await queue.enqueue(job);
      stopTimer();
      // Logged and counted as `requeued` (a failed job replaced by this redelivery); GitHub is told `queued`.
      delivery.outcome = outcome;
      metrics.deliveries.inc({ event, outcome });
      reply(res, 202, { delivery_id: job.deliveryId, status: outcome === 'requeued' ? 'queued' : outcome });
    } catch (err) {
      delivery.outcome = 'unavailable';
      metrics.deliveries.inc({ event, outcome: 'unavailable' });
      logger.warn({ err: errorSummary(err), delivery_id: job.deliveryId }, 'could not store delivery');
      res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      fail(
        res,
        503,
        'queue_unavailable',
        err instanceof EnqueueTimeoutError
          ? 'the queue did not accept the delivery in time; redeliver it later'
          : 'the queue is unavailable; redeliver it later',
      );
    }
  }

  // Every other route is counted here; the webhook route counts its own requests in the listener it already has.
  app.use((req, res, next) => {
    res.on('finish', () => {
      metrics.requests.inc({ route: (req.route?.path as string | undefined) ?? 'other', status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await queue.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', redis: ok ? 'ok' : 'unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((_req, res) => {
    fail(res, 404, 'not_found', 'no such route');
  });

  // Errors raised by express itself (body parser limits, aborted requests) and anything unexpected.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; type?: string; expose?: boolean };
    const status = e.status ?? e.statusCode ?? 500;
    if (res.headersSent) return;
    if (e.type === 'entity.too.large') return tooLarge(res);
    if (status >= 400 && status < 500) {
      return fail(res, status, e.type ? e.type.replace(/\W+/g, '_') : 'bad_request', 'the request could not be read');
    }
    logger.error({ err: errorSummary(err) }, 'unexpected error');
    return fail(res, 500, 'internal_error', 'internal error');
  });

  return app;
}

/**
 * What {@link admit} decided: a job to store, or the answer to give without storing anything, and whether the
 * delivery is to be recorded as settled first.
 */
type Admitted = { job: WebhookJob; answer?: undefined } | Answer;
type Answer = { job?: undefined; answer: (res: Response) => void; settled?: SettledOutcome };

function refuse(status: number, error: string, message: string): Answer {
  return { answer: (res) => fail(res, status, error, message) };
}

/** A refusal of a delivery whose signature held: GitHub would send it again unchanged, and be refused again. */
function settled(refusal: Answer): Answer {
  return { ...refusal, settled: 'invalid' };
}

function tooLarge(res: Response): void {
  fail(res, 413, 'payload_too_large', `body exceeds ${MAX_BODY_BYTES} bytes (GitHub's own limit)`);
}

/** 503 with Retry-After: the request did not fit in INGEST_MAX_INFLIGHT_BYTES. */
function busy(res: Response): void {
  res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  fail(res, 503, 'server_busy', 'ingest is reading as many request bodies as it may hold at once; redeliver it later');
}

/**
 * Answers a request refused before its body was kept, once the rest of the body has been read off and
 * discarded (as express's body parsers do): a connection closed with bytes still unread is reset, and a
 * sender that asked for `Connection: close` would never see its answer. Nothing of the body is held, and it
 * takes no part of the in-flight budget; a client that stops sending meets the server's request timeout.
 */
function afterBody(req: Request, res: Response, answer: () => void): void {
  if (req.readableEnded) return answer();
  req.on('end', () => {
    if (!res.headersSent && !res.destroyed) answer();
  });
  req.resume();
}

/**
 * The bytes of request bodies being read or held, across every request of an app. A request takes its share
 * before reading (its Content-Length, or each chunk as it arrives when it has none) and gives it back when it
 * is answered or its connection closes.
 */
class InflightBudget {
  used = 0;
  constructor(readonly max: number) {}

  /**
   * Takes `bytes` for a request already holding `held`, if they fit. A request holding everything in use may
   * always take more (up to GitHub's 25 MB cap, checked by the caller): a genuine delivery larger than a small
   * budget is read alone rather than refused for ever.
   */
  take(bytes: number, held: number): boolean {
    if (this.used + bytes > this.max && this.used !== held) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

type BodyOutcome = Buffer | 'too-large' | 'busy' | 'aborted';

interface BodyHandlers {
  /** Asked before each chunk is kept. */
  take(bytes: number): boolean;
  /** What was kept has been dropped: the body is refused, and its rest is read off without being kept. */
  dropped(reason: 'too-large' | 'busy'): void;
  /** Called once, when the body has ended (or the request was aborted): the body, or why there is none. */
  done(outcome: BodyOutcome): void;
}

/**
 * Reads a request's body. Once `take` says no, or the body passes {@link MAX_BODY_BYTES}, what was kept is
 * dropped and the rest of the body is read off and discarded, never held; the refusal is given when the body
 * has ended, so that the sender sees it (see {@link afterBody}).
 */
function readBody(req: Request, handlers: BodyHandlers): void {
  let chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  let refusal: 'too-large' | 'busy' | undefined;
  const settle = (outcome: BodyOutcome) => {
    if (settled) return;
    settled = true;
    chunks = [];
    handlers.done(outcome);
  };
  const drop = (reason: 'too-large' | 'busy') => {
    refusal = reason;
    chunks = [];
    handlers.dropped(reason);
  };
  req.on('data', (chunk: Buffer) => {
    if (settled || refusal) return;
    received += chunk.length;
    if (received > MAX_BODY_BYTES) return drop('too-large');
    if (!handlers.take(chunk.length)) return drop('busy');
    chunks.push(chunk);
  });
  // Copied into a buffer of its own even when it came in one chunk: a chunk can be a view of a larger buffer.
  req.on('end', () => settle(refusal ?? Buffer.concat(chunks, received)));
  req.on('error', () => settle('aborted'));
  req.on('close', () => settle('aborted'));
}

interface Refusal {
  status: number;
  error: string;
  message: string;
}

/** The checks that need only the headers; records the event and delivery id on `delivery` as they pass. */
function checkHeaders(req: Request, delivery: Delivery): Refusal | undefined {
  const headers = req.headers;
  const event = headers['x-github-event'];
  if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
    const message = event ? 'X-GitHub-Event is malformed' : 'X-GitHub-Event header is missing';
    return { status: 400, error: 'invalid_event_header', message };
  }
  delivery.event = event;
  const deliveryId = headers['x-github-delivery'];
  if (typeof deliveryId !== 'string' || !DELIVERY_ID.test(deliveryId)) {
    const message = deliveryId ? 'X-GitHub-Delivery must be a GUID' : 'X-GitHub-Delivery header is missing';
    return { status: 400, error: 'invalid_delivery_header', message };
  }
  delivery.deliveryId = deliveryId;
  const contentType = headers['content-type'];
  if (contentType === undefined || !JSON_CONTENT_TYPE.test(contentType)) {
    const form = contentType !== undefined && req.is('application/x-www-form-urlencoded');
    const message = form
      ? 'This webhook sends application/x-www-form-urlencoded; set the webhook content type to application/json in the GitHub App settings'
      : 'Content-Type must be application/json';
    return { status: 415, error: 'unsupported_content_type', message };
  }
  // GitHub never compresses deliveries, and the signature is over the bytes as sent.
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return { status: 415, error: 'unsupported_content_encoding', message: 'Content-Encoding must be identity (GitHub does not compress deliveries)' };
  }
  if (!headers['x-hub-signature-256']) {
    const message = headers['x-hub-signature']
      ? 'X-Hub-Signature-256 header is missing (sha1 X-Hub-Signature alone is not accepted); set a webhook secret'
      : 'X-Hub-Signature-256 header is missing; set a webhook secret';
    return { status: 401, error: 'missing_signature', message };
  }
  return undefined;
}

function fail(res: Response, status: number, error: string, message: string): void {
  const delivery = res.locals.delivery as Delivery | undefined;
  reply(res, status, { ...(delivery?.deliveryId ? { delivery_id: delivery.deliveryId } : {}), error, message });
}

/**
 * A JSON answer written straight to the response: the webhook route answers thousands of times a second, and
 * express's `res.json` (charset negotiation, freshness and ETag checks) is made for content it does not send.
 */
function reply(res: Response, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

function errorSummary(err: unknown): { name?: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) };
}

/**
 * The HTTP server for the app, with bounds on slow clients and JSON answers even to requests Node cannot parse
 * (header injection, malformed request lines), which never reach express.
 */
export function createServer(app: express.Express): http.Server {
  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, app);
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ error: 'bad_request', message: `malformed HTTP request (${err.code ?? 'parse error'})` });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}
