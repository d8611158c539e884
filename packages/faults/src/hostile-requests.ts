import net from 'node:net';

export interface Answer {
  /** HTTP status of the answer, or `closed` when the connection ended without one. */
  status: number | 'closed';
  body: string;
}

/**
 * Writes raw bytes to ingest over a socket of its own (requests no HTTP client would send: bad header
 * bytes, oversized heads) and reads the answer. `chunkDelayMs` dribbles the bytes one small chunk at a time,
 * as a slow client does.
 */
export function rawRequest(port: number, bytes: Buffer, options: { chunkDelayMs?: number; chunkSize?: number } = {}): Promise<Answer> {
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
      resolve({ status: m ? Number(m[1]) : 'closed', body: bodyAt >= 0 ? text.slice(bodyAt + 4) : '' });
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
      const { chunkDelayMs, chunkSize = 16 } = options;
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

/** A complete HTTP/1.1 POST to the webhook path, head and body, as bytes. */
export function httpPost(port: number, headers: Record<string, string | Buffer>, body: Buffer): Buffer {
  const lines: Buffer[] = [Buffer.from(`POST /api/v1/webhooks/github HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`)];
  for (const [name, value] of Object.entries(headers)) {
    lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\r\n')]));
  }
  lines.push(Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body);
  return Buffer.concat(lines);
}
