import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';
import { poolConfigFromUrl } from './database-url.js';

export interface DatabaseConfig {
  databaseUrl: string;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
}

/**
 * The Prisma client every service uses: Prisma 7's query compiler over node-postgres (adapter-pg), so no native
 * query engine is involved.
 *
 * @example const db = createPrismaClient({ databaseUrl: process.env.DATABASE_URL!, poolSize: 5 })
 */
export function createPrismaClient(config: DatabaseConfig): PrismaClient {
  const adapter = new PrismaPg({
    ...poolConfigFromUrl(config.databaseUrl),
    max: config.poolSize ?? 10,
    // A connection that cannot be had within this bound is an error the caller can retry, not a hang.
    connectionTimeoutMillis: 5_000,
  });
  return new PrismaClient({ adapter });
}

export type { PrismaClient };
