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

describe('redaction of secret-named fields at any depth', () => {
  it('redacts nested fields, fields in arrays of objects and in configuration objects, keeping their neighbours', () => {
    const { lines, log } = capturedLogger();
    log.info(
      {
        a: { b: { c: { token: 'tok-deep-1', keep: 'c-kept' }, keep: 'b-kept' } },
        list: [{ password: 'pw-in-list-0', name: 'first' }, { name: 'second' }, 'plain', 7],
        config: { github: { privateKey: '-----BEGIN RSA PRIVATE KEY-----abc', appId: 42 }, port: 3001 },
        deeper: { l1: { l2: { l3: { l4: { l5: { secret: 'five-levels-down', n: 5 } } } } } },
        env: { GITHUB_WEBHOOK_SECRET: 'env-style-secret', API_TOKENS: ['t1-secret', 't2-secret'], QUEUE_PREFIX: 'ephemera' },
        headers: { Authorization: 'Bearer hdr-secret', 'X-Hub-Signature-256': 'sha256=abcdef', accept: 'application/json' },
        delivery_id: 'd-7',
        count: 3,
      },
      'nested secrets',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      a: { b: { c: { token: '[redacted]', keep: 'c-kept' }, keep: 'b-kept' } },
      list: [{ password: '[redacted]', name: 'first' }, { name: 'second' }, 'plain', 7],
      config: { github: { privateKey: '[redacted]', appId: 42 }, port: 3001 },
      deeper: { l1: { l2: { l3: { l4: { l5: { secret: '[redacted]', n: 5 } } } } } },
      env: { GITHUB_WEBHOOK_SECRET: '[redacted]', API_TOKENS: '[redacted]', QUEUE_PREFIX: 'ephemera' },
      headers: { Authorization: '[redacted]', 'X-Hub-Signature-256': '[redacted]', accept: 'application/json' },
      delivery_id: 'd-7',
      count: 3,
      msg: 'nested secrets',
    });
    for (const secret of ['tok-deep-1', 'pw-in-list-0', 'BEGIN RSA', 'five-levels-down', 'env-style-secret', 't1-secret', 'hdr-secret', 'abcdef']) {
      expect(lines[0]).not.toContain(secret);
    }
  });

  it('leaves the logged objects as they were, and errors serialized as errors', () => {
    const { lines, log } = capturedLogger();
    const config = { github: { privateKey: 'kept-in-the-caller' }, port: 1 };
    const frozen = Object.freeze({ nested: Object.freeze({ token: 'frozen-token' }) });
    const err = Object.assign(new Error('refused', { cause: { request: { token: 'cause-token' } } }), {
      code: 'E_AUTH',
      details: { password: 'err-password' },
    });
    log.error({ config, frozen, err }, 'failed');
    expect(config.github.privateKey).toBe('kept-in-the-caller');
    expect(err.details.password).toBe('err-password');
    const line = JSON.parse(lines[0]!) as { err: Record<string, unknown>; frozen: unknown };
    // A frozen object cannot be redacted in place: the line holds a redacted copy.
    expect(line.frozen).toEqual({ nested: { token: '[redacted]' } });
    expect(line.err).toMatchObject({ type: 'Error', message: 'refused', code: 'E_AUTH', details: { password: '[redacted]' } });
    expect(typeof line.err.stack).toBe('string');
    for (const secret of ['kept-in-the-caller', 'frozen-token', 'cause-token', 'err-password']) expect(lines[0]).not.toContain(secret);
  });

  it('writes a line of plain fields unchanged', () => {
    const { lines, log } = capturedLogger();
    const fields = { delivery_id: 'd-1', event: 'pull_request', outcome: 'queued', status: 202, latency_ms: 0.4, when: new Date(0) };
    log.info(fields, 'delivery');
    expect(JSON.parse(lines[0]!)).toMatchObject({ ...fields, when: '1970-01-01T00:00:00.000Z' });
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
