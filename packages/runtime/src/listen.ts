import http from 'node:http';
import type { Logger } from 'pino';

/**
 * Starts `target` (an HTTP server, or a request handler such as an express app, served by a new one) listening on
 * `port`, and returns the server. A server that cannot listen is fatal: logged with the port and the variable that
 * sets it when the port is taken (EADDRINUSE), then the process exits 1, since a service without its port serves
 * nothing and its orchestrator should see it fail.
 */
export function listen(
  logger: Logger,
  target: http.Server | http.RequestListener,
  port: number,
  portVariable: string,
  onListening?: () => void,
): http.Server {
  const server = target instanceof http.Server ? target : http.createServer(target);
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ err: { message: err.message, code: err.code } }, err.code === 'EADDRINUSE' ? `port ${port} is already in use (${portVariable})` : 'server error');
    process.exit(1);
  });
  return server.listen(port, onListening);
}
