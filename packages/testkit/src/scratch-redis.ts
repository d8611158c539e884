import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startRedis, type RunningServer } from '@ephemera/devstack/servers';

/**
 * A Redis server of a test's own, for tests that stop and restart it. `restart()` brings it back on the same
 * port with the same append-only file, as an operator's restart would.
 */
export async function startScratchRedis(): Promise<{
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ephemera-redis-'));
  const port = await freePort();
  let server: RunningServer | undefined = await startRedis({ dir, port, durable: true });
  return {
    url: server.url,
    port,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      if (!server) server = await startRedis({ dir, port, durable: true });
    },
    async destroy() {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
