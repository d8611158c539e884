import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';
import { poolConfigFromUrl } from './database-url.js';
import { createStatementNamer } from './statement-names.js';

export interface DatabaseConfig {
  databaseUrl: string;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
  /**
   * How many distinct statements each connection keeps prepared (default 200); 0 prepares none, for a pooler in
   * transaction mode that cannot follow prepared statements across server connections.
   */
  preparedStatements?: number;
}

/**
 * The Prisma client every service uses: Prisma 7's query compiler over node-postgres (adapter-pg), so no native
 * query engine is involved.
 *
 * @example const db = createPrismaClient({ databaseUrl: process.env.DATABASE_URL!, poolSize: 5 })
 */
export function createPrismaClient(config: DatabaseConfig): PrismaClient {
  const prepared = config.preparedStatements ?? 200;
  const nameOf = prepared > 0 ? createStatementNamer(prepared) : undefined;
  const adapter = new PrismaPg(
    {
      ...poolConfigFromUrl(config.databaseUrl),
      max: config.poolSize ?? 10,
      // A connection that cannot be had within this bound is an error the caller can retry, not a hang.
      connectionTimeoutMillis: 5_000,
    },
    // An undefined name runs the statement unnamed (pg's `name` is optional; the adapter's type says string).
    nameOf ? { statementNameGenerator: (query) => nameOf(query.sql) as string } : undefined,
  );
  // 'minimal' is what Prisma uses under NODE_ENV=production; set here so every environment behaves the same and no
  // call captures a stack trace to point its error message at the caller's line.
  return new PrismaClient({ adapter, errorFormat: 'minimal' });
}

export type { PrismaClient };
