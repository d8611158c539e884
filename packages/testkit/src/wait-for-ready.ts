import type { ChildProcess } from 'node:child_process';

/**
 * Waits until the server that `child` started answers `GET /readyz` on `port` with a 2xx, polling every 100 ms for
 * `attempts` tries; fails as soon as the process exits, naming it `name`.
 */
export async function waitForReady(port: number, child: ChildProcess, { name = 'server', attempts = 100 }: { name?: string; attempts?: number } = {}): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on port ${port} did not become ready`);
}
