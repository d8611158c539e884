import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Runs a Redis container's start command (`sh -c <script> sh redis-server … -`) and its probes the way the
 * container would, with `sh` from this machine and stubs for what the redis:7 image provides: the image's
 * `docker-entrypoint.sh` records the command line it is given and the standard input redis-server would read,
 * and `redis-cli` answers PONG only to the password `expectedPassword` (in REDISCLI_AUTH, as redis-cli reads it),
 * and otherwise NOAUTH with exit code 0, as the real one does.
 */
export interface Started {
  status: number | null;
  stderr: string;
  /** The arguments redis-server would be started with (after the entrypoint's own name). */
  argv: string[];
  /** What redis-server would read as configuration on its standard input. */
  stdin: string;
}

function stubs(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ephemera-redis-stub-'));
  writeFileSync(
    path.join(dir, 'docker-entrypoint.sh'),
    '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$STUB_OUT/argv"\ncat > "$STUB_OUT/stdin"\n',
  );
  writeFileSync(
    path.join(dir, 'redis-cli'),
    '#!/bin/sh\nif [ -n "$STUB_PASSWORD" ] && [ "$REDISCLI_AUTH" = "$STUB_PASSWORD" ]; then echo PONG; else echo "NOAUTH Authentication required."; fi\nexit 0\n',
  );
  for (const f of ['docker-entrypoint.sh', 'redis-cli']) chmodSync(path.join(dir, f), 0o755);
  return dir;
}

/** Runs `command` (a container's command followed by its args) with exactly `env` plus the stubs on PATH. */
export function runRedisStart(command: string[], env: Record<string, string>): Started {
  const dir = stubs();
  try {
    const result = spawnSync(command[0]!, command.slice(1), {
      env: { ...env, PATH: `${dir}:/usr/bin:/bin`, STUB_OUT: dir },
      encoding: 'utf8',
      timeout: 10_000,
    });
    const readOr = (f: string) => {
      try {
        return readFileSync(path.join(dir, f), 'utf8');
      } catch {
        return '';
      }
    };
    const argv = readOr('argv').split('\0').slice(0, -1);
    return { status: result.status, stderr: result.stderr, argv, stdin: readOr('stdin') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a probe's exec command against a Redis whose password is `expectedPassword`; true when it passes. */
export function probePasses(command: string[], env: Record<string, string>, expectedPassword: string): boolean {
  const dir = stubs();
  try {
    const result = spawnSync(command[0]!, command.slice(1), { env: { ...env, PATH: `${dir}:/usr/bin:/bin`, STUB_PASSWORD: expectedPassword }, encoding: 'utf8', timeout: 10_000 });
    return result.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
