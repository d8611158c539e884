import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, logErrors } from '../src/index.js';

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ service: 'unit', destination }) };
}

describe(logErrors.name, () => {
  it('logs each error event as a warning instead of letting emit throw it', () => {
    const { lines, logger } = capturedLogger();
    const sut = new EventEmitter();
    logErrors(sut, logger, 'redis connection error');
    expect(() => sut.emit('error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).not.toThrow();
    sut.emit('error', new Error('second'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'redis connection error', err: { message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } });
    expect(lines[1]).toMatchObject({ level: 'warn', msg: 'redis connection error', err: { message: 'second' } });
  });

  it('logs an error passed on by several emitters once, by the first that sees it', () => {
    // As a BullMQ queue re-emits the errors of the connection it was given.
    const { lines, logger } = capturedLogger();
    const connection = new EventEmitter();
    const queues = [new EventEmitter(), new EventEmitter()];
    logErrors(connection, logger, 'redis connection error');
    for (const q of queues) {
      logErrors(q, logger, 'queue error');
      connection.on('error', (err: Error) => q.emit('error', err));
    }
    connection.emit('error', new Error('shared'));
    queues[1]!.emit('error', new Error('its own error'));
    expect(lines.map((l) => l.msg)).toEqual(['redis connection error', 'queue error']);
    expect(lines[1]).toMatchObject({ err: { message: 'its own error' } });
  });
});
