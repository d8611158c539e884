import type { PoolConfig } from 'pg';

/**
 * Splits a postgres:// URL into discrete pg settings.
 *
 * pg lets `connectionString` override every other field, so a config that must later be re-pointed at another
 * database (Prisma's shadow database does `{ ...config, database }`) has to be given as fields.
 */
export function poolConfigFromUrl(databaseUrl: string): PoolConfig {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a valid URL (expected postgresql://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must start with postgresql:// (got ${url.protocol}//)`);
  }
  const config: PoolConfig = {
    // ?host=/run/postgresql (libpq's form) selects the server's unix socket folder, as psql does.
    host: url.searchParams.get('host') || decodeURIComponent(url.hostname) || 'localhost',
    port: url.port ? Number(url.port) : 5432,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
  };
  if (url.username) config.user = decodeURIComponent(url.username);
  if (url.password) config.password = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable') config.ssl = sslmode === 'no-verify' ? { rejectUnauthorized: false } : true;
  return config;
}

/** The URL with its password masked, for log lines and error messages. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(invalid url)';
  }
}
