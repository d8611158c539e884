import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { poolConfigFromUrl } from './database-url.js';
import { StatementNamer, isStalePreparedStatement } from './statement-names.js';

export interface DatabaseConfig {
  databaseUrl: string;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
  /**
   * How many distinct statements each connection keeps prepared (default 200); 0 prepares none, for a pooler in
   * transaction mode that cannot follow prepared statements across server connections.
   */
  preparedStatements?: number;
  /**
   * Told when the server refused a prepared statement and every statement is prepared again under new names
   * (`preparing: false` once that has happened too often and statements run unnamed from then on).
   */
  onStatementsReset?: (event: { preparing: boolean; error: string }) => void;
}

/**
 * The Prisma client every service uses: Prisma 7's query compiler over node-postgres (adapter-pg), so no native
 * query engine is involved.
 *
 * @example const db = createPrismaClient({ databaseUrl: process.env.DATABASE_URL!, poolSize: 5 })
 */
export function createPrismaClient(config: DatabaseConfig): PrismaClient {
  const prepared = config.preparedStatements ?? 200;
  const namer = prepared > 0 ? new StatementNamer(prepared) : undefined;
  const adapter = new PrismaPg(
    {
      ...poolConfigFromUrl(config.databaseUrl),
      max: config.poolSize ?? 10,
      // A connection that cannot be had within this bound is an error the caller can retry, not a hang.
      connectionTimeoutMillis: 5_000,
      ...(namer ? { Client: watchedClient(namer, config.onStatementsReset) } : {}),
    },
    // An undefined name runs the statement unnamed (pg's `name` is optional; the adapter's type says string).
    namer ? { statementNameGenerator: (query) => namer.name(query.sql) as string } : undefined,
  );
  // 'minimal' is what Prisma uses under NODE_ENV=production; set here so every environment behaves the same and no
  // call captures a stack trace to point its error message at the caller's line.
  return new PrismaClient({ adapter, errorFormat: 'minimal' });
}

/**
 * A node-postgres client that drops the statement names when the server refuses a prepared statement, so the
 * statement that failed (retried by its job) and every other one are prepared afresh rather than failing on this
 * connection until it closes.
 */
function watchedClient(namer: StatementNamer, onReset: DatabaseConfig['onStatementsReset']): typeof pg.Client {
  const check = (err: unknown) => {
    if (isStalePreparedStatement(err)) onReset?.({ preparing: namer.forget(), error: (err as Error).message });
  };
  return class extends pg.Client {
    override query(...args: unknown[]): never {
      // The pool calls with a callback; a transaction's client, without one, for a promise.
      const last = args.length - 1;
      if (typeof args[last] === 'function') {
        const callback = args[last] as (err: unknown, ...rest: unknown[]) => void;
        args[last] = (err: unknown, ...rest: unknown[]) => {
          if (err) check(err);
          callback(err, ...rest);
        };
      }
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      // `instanceof Promise` is unreliable across realms; a thenable is what pg returns.
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') (result as Promise<unknown>).catch(check);
      return result as never;
    }
  };
}

export type { PrismaClient };
