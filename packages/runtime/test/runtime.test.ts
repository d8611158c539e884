import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { ConfigError, createLogger, createRedis, env, parseConfig, redisReachable } from '../src/index.js';

describe(parseConfig.name, () => {
  const schema = z.object({
    PORT: env.port(3000),
    SECRET: z.string().min(1),
    FLAG: env.bool(false),
    LIST: env.list().default([]),
  });

  it('applies defaults and coerces values', () => {
    expect(parseConfig(schema, { SECRET: 's', FLAG: 'yes', LIST: 'a, b,,c' })).toEqual({
      PORT: 3000,
      SECRET: 's',
      FLAG: true,
      LIST: ['a', 'b', 'c'],
    });
  });

  it('treats empty variables as unset and reports every problem at once, by name', () => {
    const error = (() => {
      try {
        parseConfig(schema, { SECRET: '  ', PORT: '70000' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^PORT: /),
      'SECRET is required but not set',
    ]);
  });
});

describe(createLogger.name, () => {
  it('writes every line to stdout, those logged just before process.exit included', () => {
    // A process of its own: stdout is written asynchronously, and what is still buffered must not be lost at exit.
    // It runs the built package, which this package's turbo.json builds before its tests.
    const script = `
      import { createLogger } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const log = createLogger({ service: 'exit-test' });
      for (let i = 0; i < 5000; i++) log.info({ i }, 'line');
      log.fatal('last words');
      process.exit(3);
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status).toBe(3);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { i?: number; msg: string });
    expect(lines).toHaveLength(5001);
    expect(lines.slice(0, 5000).map((l) => l.i)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(lines[5000]).toMatchObject({ service: 'exit-test', level: 'fatal', msg: 'last words' });
  });

  /** A logger whose lines are kept in memory for the test to read. */
  function capturedLogger() {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    return { lines, log: createLogger({ service: 'unit', destination }) };
  }

  it('writes JSON lines with the service name and redacts secrets, tokens and signatures', () => {
    const { lines, log } = capturedLogger();
    log.info({ token: 'ghs_abc', headers: { authorization: 'Bearer x', 'x-hub-signature-256': 'sha256=f00' }, keep: 1 }, 'hello');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'unit', level: 'info', msg: 'hello', keep: 1, token: '[redacted]' });
    expect(lines[0]).not.toContain('ghs_abc');
    expect(lines[0]).not.toContain('Bearer x');
    expect(lines[0]).not.toContain('sha256=f00');
  });

  it('redacts secret-named fields inside the objects that are logged whole', () => {
    const { lines, log } = capturedLogger();
    log.warn(
      {
        err: { message: 'refused', token: 'ghs_err' },
        config: { secret: 'whsec', privateKey: '-----BEGIN KEY-----', port: 3001 },
        credentials: { password: 'hunter2' },
        delivery_id: 'd-1',
      },
      'nested',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      err: { message: 'refused', token: '[redacted]' },
      config: { secret: '[redacted]', privateKey: '[redacted]', port: 3001 },
      credentials: { password: '[redacted]' },
      delivery_id: 'd-1',
    });
    for (const secret of ['ghs_err', 'whsec', 'BEGIN KEY', 'hunter2']) expect(lines[0]).not.toContain(secret);
  });
});

describe(redisReachable.name, () => {
  it('is true for the test Redis and false for a port nothing listens on', async () => {
    const up = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'producer');
    const down = createRedis('redis://127.0.0.1:1', 'producer', { retryStrategy: () => null });
    down.on('error', () => undefined);
    try {
      // A producer keeps no offline queue: until it has connected, a PING fails like an unreachable server.
      await new Promise((resolve) => up.once('ready', resolve));
      expect(await redisReachable(up, 2_000)).toBe(true);
      expect(await redisReachable(down, 500)).toBe(false);
    } finally {
      up.disconnect();
      down.disconnect();
    }
  });
});
