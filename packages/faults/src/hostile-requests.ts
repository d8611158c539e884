import net from 'node:net';

export interface Answer {
  /** HTTP status of the answer, or `closed` when the connection ended without one. */
  status: number | 'closed';
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  body: string;
}

interface RawRequestOptions {
  /** Dribbles the bytes one small chunk (`chunkSize`, 16 by default) at a time, this many ms apart, as a slow client does. */
  chunkDelayMs?: number;
  chunkSize?: number;
  /**
   * Sends the first `pauseAt` bytes, then waits for `resume` before sending the rest (nothing more once the
   * answer has come): a large body held in flight while others are sent.
   */
  pauseAt?: number;
  resume?: Promise<void>;
}

/**
 * Writes raw bytes to ingest over a socket of its own (requests no HTTP client would send: bad header
 * bytes, oversized heads) and reads the answer.
 */
export function rawRequest(port: number, bytes: Buffer, options: RawRequestOptions = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const bodyAt = text.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of (bodyAt >= 0 ? text.slice(0, bodyAt) : '').split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : 'closed', headers, body: bodyAt >= 0 ? text.slice(bodyAt + 4) : '' });
    };
    // Past ingest's own header and request timeouts, so a silent server shows up as `closed`.
    const timer = setTimeout(finish, 40_000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      if (head >= 0 && length && text.length - head - 4 >= Number(length[1])) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', async () => {
      const { chunkDelayMs, chunkSize = 16, pauseAt, resume } = options;
      if (pauseAt !== undefined && resume) {
        socket.write(bytes.subarray(0, pauseAt));
        await resume;
        if (!settled) socket.write(bytes.subarray(pauseAt));
        return;
      }
      if (!chunkDelayMs) {
        socket.write(bytes);
        return;
      }
      for (let i = 0; i < bytes.length && !settled; i += chunkSize) {
        socket.write(bytes.subarray(i, i + chunkSize));
        await new Promise((r) => setTimeout(r, chunkDelayMs));
      }
    });
  });
}

function head(port: number, headers: Record<string, string | Buffer>): Buffer[] {
  const lines: Buffer[] = [Buffer.from(`POST /api/v1/webhooks/github HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`)];
  for (const [name, value] of Object.entries(headers)) {
    lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\r\n')]));
  }
  return lines;
}

/** A complete HTTP/1.1 POST to the webhook path, head and body, as bytes. */
export function httpPost(port: number, headers: Record<string, string | Buffer>, body: Buffer): Buffer {
  return Buffer.concat([...head(port, headers), Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

/**
 * The same POST with the body sent chunked (no Content-Length), in chunks of `chunkSize` bytes. Also returns
 * where the head and first chunk end, to pause a request there.
 */
export function httpPostChunked(
  port: number,
  headers: Record<string, string | Buffer>,
  body: Buffer,
  chunkSize: number,
): { bytes: Buffer; firstChunkEnd: number } {
  const parts = [...head(port, headers), Buffer.from('Transfer-Encoding: chunked\r\n\r\n')];
  let firstChunkEnd = 0;
  for (let i = 0; i < body.length; i += chunkSize) {
    const chunk = body.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    if (i === 0) firstChunkEnd = parts.reduce((n, b) => n + b.length, 0);
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return { bytes: Buffer.concat(parts), firstChunkEnd };
}
