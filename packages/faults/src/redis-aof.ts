import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** Where Redis's append-only file ended at some moment: its newest incremental file and that file's size. */
export interface AofMark {
  file: string;
  size: number;
}

/** The incremental AOF file Redis appends to now (Redis 7's multi-part AOF: the manifest's last `type i` file). */
export async function aofMarkIn(redisDir: string): Promise<AofMark> {
  const manifest = await readFile(path.join(redisDir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  const file = [...manifest.matchAll(/^file (\S+) seq \d+ type i$/gm)].at(-1)?.[1];
  if (!file) throw new Error(`no incremental AOF file in the manifest: ${manifest}`);
  return { file, size: (await stat(path.join(redisDir, 'appendonlydir', file))).size };
}

/** One Redis command over a connection of its own (RESP by hand: the suite has no Redis client of its own). */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request));
    let reply = '';
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else if (reply.startsWith('-')) reject(new Error(`Redis: ${reply.trim()}`));
      else resolve(reply);
    };
    socket.setTimeout(5_000, () => done(new Error('Redis did not answer')));
    socket.on('error', done);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      // A simple string or error is one line; a bulk string is its length line and then that many bytes.
      const bulk = /^\$(-?\d+)\r\n/.exec(reply);
      if (!bulk ? reply.includes('\r\n') : Number(bulk[1]) < 0 || Buffer.byteLength(reply) >= bulk[0].length + Number(bulk[1]) + 2) done();
    });
  });
}
