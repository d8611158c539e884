import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { createService } from '../src/index.js';

// Each case is a service of its own in a child process: createService installs process-wide handlers and exits.
// The scripts run the built package, which this package's turbo.json builds before its tests.
const RUNTIME = JSON.stringify(new URL('../dist/index.js', import.meta.url).href);

/** A script that starts a service named `svc` whose configuration is `config` (or whose loader runs `load`). */
function serviceScript(body: string, options: { load?: string; config?: Record<string, unknown>; extra?: string } = {}): string {
  return `
    import { ConfigError, createService } from ${RUNTIME};
    const { config, logger, onStop, listen } = createService({
      name: 'svc',
      loadConfig: () => { ${options.load ?? `return ${JSON.stringify(options.config ?? { LOG_LEVEL: 'info' })};`} },
      ${options.extra ?? ''}
    });
    ${body}
  `;
}

interface Line {
  level: string;
  msg: string;
  service: string;
  err?: { type?: string; message: string; stack?: string };
}

function run(script: string) {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  return { code: child.status, stderr: child.stderr, lines: jsonLines(child.stdout) };
}

function jsonLines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

describe(createService.name, () => {
  it('exits 1 on a configuration error with one line on stderr naming the service and every problem', () => {
    const sut = run(
      serviceScript(`logger.info('should not start');`, {
        load: `throw new ConfigError(['DATABASE_URL is required but not set', 'PORT: too big']);`,
      }),
    );
    expect(sut.code).toBe(1);
    expect(sut.stderr).toBe('svc: invalid configuration: DATABASE_URL is required but not set; PORT: too big\n');
    expect(sut.lines).toEqual([]);
  });

  it('exits 1 naming the service when the loader fails for another reason', () => {
    const sut = run(serviceScript(`logger.info('should not start');`, { load: `throw new Error('loader bug');` }));
    expect(sut.code).toBe(1);
    expect(sut.stderr).toMatch(/^svc: cannot load the configuration: Error: loader bug/);
    expect(sut.lines).toEqual([]);
  });

  it('logs with the service name at the configured level', () => {
    const sut = run(serviceScript(`logger.info('hidden'); logger.warn('shown');`, { config: { LOG_LEVEL: 'warn' } }));
    expect(sut.code).toBe(0);
    expect(sut.lines).toEqual([expect.objectContaining({ service: 'svc', level: 'warn', msg: 'shown' })]);
  });

  it('logs an unhandled rejection as an error with its message and stack, and keeps running', () => {
    const sut = run(
      serviceScript(`
        Promise.reject(new Error('nobody awaited this'));
        Promise.reject('a bare string');
        setTimeout(() => logger.info('still running'), 50);
      `),
    );
    expect(sut.code).toBe(0);
    const rejections = sut.lines.filter((l) => l.msg === 'unhandled promise rejection');
    expect(rejections).toHaveLength(2);
    expect(rejections[0]).toMatchObject({ level: 'error', service: 'svc', err: { type: 'Error', message: 'nobody awaited this' } });
    expect(rejections[0]!.err!.stack).toMatch(/^Error: nobody awaited this\n\s+at /);
    expect(rejections[1]).toMatchObject({ level: 'error', err: { message: "'a bare string'" } });
    expect(sut.lines.at(-1)).toMatchObject({ msg: 'still running' });
  });

  it('logs an uncaught exception as fatal with its stack and exits 1', () => {
    const sut = run(
      serviceScript(`
        setTimeout(() => { throw new Error('thrown from a timer'); }, 10);
        setTimeout(() => logger.info('should not run'), 200);
      `),
    );
    expect(sut.code).toBe(1);
    expect(sut.lines).toHaveLength(1);
    expect(sut.lines[0]).toMatchObject({ level: 'fatal', service: 'svc', msg: 'uncaught exception; exiting', err: { message: 'thrown from a timer' } });
    expect(sut.lines[0]!.err!.stack).toMatch(/^Error: thrown from a timer\n\s+at /);
  });

  it('on SIGTERM runs the stop functions, the last added first, and exits 0', async () => {
    const sut = await runUntilSignal(
      serviceScript(`
        onStop(async () => { await new Promise((r) => setTimeout(r, 100)); logger.info('closed the connection'); });
        onStop(async () => { await new Promise((r) => setTimeout(r, 100)); logger.info('closed the server'); });
        setInterval(() => undefined, 1_000);
        logger.info('ready');
      `),
      'SIGTERM',
    );
    expect(sut.code).toBe(0);
    const messages = sut.lines.map((l) => l.msg);
    // 'stopped' is logged in the same tick as the last stop's line, and pino's flush at exit may write it while
    // that line's asynchronous write is still in flight: the two can come out in either order.
    expect(messages.filter((m) => m !== 'stopped')).toEqual(['ready', 'stopping', 'closed the server', 'closed the connection']);
    expect(messages).toContain('stopped');
  });

  it('exits 1 when stopping takes longer than the shutdown timeout taken from the configuration', async () => {
    const sut = await runUntilSignal(
      serviceScript(
        `
        onStop(() => new Promise(() => undefined));
        setInterval(() => undefined, 1_000);
        logger.info('ready');
      `,
        { config: { LOG_LEVEL: 'info', STOP_MS: 200 }, extra: 'shutdownTimeoutMs: (c) => c.STOP_MS,' },
      ),
      'SIGTERM',
    );
    expect(sut.code).toBe(1);
    expect(sut.lines.at(-1)).toMatchObject({ level: 'error', msg: 'shutdown took too long; exiting', timeoutMs: 200 });
  });

  describe('listen', () => {
    it('serves a request handler on the port and calls back once listening', () => {
      const sut = run(
        serviceScript(`
          const server = listen((_req, res) => res.end('served'), 0, 'SVC_PORT', async () => {
            const res = await fetch('http://127.0.0.1:' + server.address().port);
            logger.info({ body: await res.text() }, 'answered');
            server.close();
          });
        `),
      );
      expect(sut.code).toBe(0);
      expect(sut.lines).toEqual([expect.objectContaining({ level: 'info', msg: 'answered', body: 'served' })]);
    });

    it('exits 1 when the port is taken, the fatal line naming the port and its variable', () => {
      const sut = run(
        serviceScript(`
          const net = await import('node:net');
          const http = await import('node:http');
          const taken = net.createServer().listen(0, () => {
            listen(http.createServer(), taken.address().port, 'SVC_PORT', () => logger.info('should not listen'));
          });
        `),
      );
      const port = /port (\d+) is already in use/.exec(sut.lines[0]?.msg ?? '')?.[1];
      expect(sut.code).toBe(1);
      expect(sut.lines).toEqual([
        expect.objectContaining({ level: 'fatal', msg: `port ${port} is already in use (SVC_PORT)`, err: expect.objectContaining({ code: 'EADDRINUSE' }) }),
      ]);
    });
  });
});

/** Starts the script, sends `signal` once it has logged `ready`, and gives back its exit code and log lines. */
async function runUntilSignal(script: string, signal: NodeJS.Signals) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('"msg":"ready"') && child.signalCode === null && !child.killed) child.kill(signal);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const code = await exited;
    return { code, lines: jsonLines(stdout) };
  } finally {
    clearTimeout(killer);
  }
}
