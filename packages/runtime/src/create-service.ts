import type http from 'node:http';
import { inspect } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError } from './config.js';
import { listen } from './listen.js';
import { createLogger } from './logger.js';
import { onShutdown } from './shutdown.js';

export interface ServiceOptions<C> {
  /** The service's name: the `service` field of every log line, and the prefix of a configuration error. */
  name: string;
  /** The service's own configuration loader; it throws {@link ConfigError} for a bad environment. */
  loadConfig: () => C;
  /** How long stopping may take before the process exits 1 anyway; `onShutdown`'s default when not given. */
  shutdownTimeoutMs?: (config: C) => number;
}

export interface Service<C> {
  config: C;
  logger: Logger;
  /**
   * Adds what to do on SIGTERM or SIGINT. Stop functions run one at a time, the last added first, so what was
   * opened first (a connection) is closed after what uses it (the server, the queues).
   */
  onStop(stop: () => Promise<void> | void): void;
  /**
   * Serves `target` (an HTTP server, or an express app) on `port`; `portVariable` is the environment variable that
   * sets the port, named by the fatal line when the port is taken (the process then exits 1).
   */
  listen(target: http.Server | http.RequestListener, port: number, portVariable: string, onListening?: () => void): http.Server;
}

/**
 * How every service starts: its configuration parsed once (a bad one is one line on stderr naming the service,
 * then exit 1), the logger, process-level error reporting, and graceful shutdown. `main.ts` stays the
 * composition root: it builds the app from `config` and `logger` and tells `onStop` how to close it.
 *
 * After this, an unhandled rejection is logged as an error with its stack and the process goes on; an uncaught
 * exception is logged as fatal and the process exits 1, since what it interrupted is left half done.
 *
 * @example
 * const { config, logger, onStop, listen } = createService({ name: 'ingest', loadConfig: loadIngestConfig });
 * const server = listen(createServer(createApp({ logger, ... })), config.INGEST_PORT, 'INGEST_PORT');
 * onStop(() => new Promise((resolve) => server.close(() => resolve())));
 */
export function createService<C extends { LOG_LEVEL: string }>(options: ServiceOptions<C>): Service<C> {
  const config = loadConfigOrExit(options);
  const logger = createLogger({ service: options.name, level: config.LOG_LEVEL });

  process.on('unhandledRejection', (reason) => {
    logger.error({ err: asError(reason) }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: asError(err) }, 'uncaught exception; exiting');
    process.exit(1);
  });

  const stops: Array<() => Promise<void> | void> = [];
  onShutdown(
    logger,
    async () => {
      for (const stop of [...stops].reverse()) await stop();
    },
    options.shutdownTimeoutMs?.(config),
  );

  return {
    config,
    logger,
    onStop: (stop) => void stops.push(stop),
    listen: (target, port, portVariable, onListening) => listen(logger, target, port, portVariable, onListening),
  };
}

function loadConfigOrExit<C>(options: ServiceOptions<C>): C {
  try {
    return options.loadConfig();
  } catch (err) {
    // No logger yet (its level is configuration), and whoever reads this is at a terminal or a pod's log.
    const line =
      err instanceof ConfigError
        ? `${options.name}: invalid configuration: ${err.problems.join('; ')}`
        : `${options.name}: cannot load the configuration: ${inspect(err)}`;
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }
}

/** An error as pino's serializer writes it (type, message, stack); a rejection may carry any value. */
function asError(value: unknown): Error | { message: string } {
  return value instanceof Error ? value : { message: inspect(value) };
}
