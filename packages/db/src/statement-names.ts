import { createHash } from 'node:crypto';

/**
 * Names for PostgreSQL prepared statements, so each connection parses a statement once and the server can settle
 * on a generic plan instead of planning the hot path's statements on every execution.
 *
 * A name is derived from the statement's text, so one text always maps to one name (node-postgres refuses a name
 * reused for different text). The number of distinct texts named is bounded: every named statement stays prepared
 * on each connection for the connection's life, and texts that vary (a list whose length varies) must not grow
 * that without limit. Once the bound is reached, texts not seen before run unnamed, as they did without a cache.
 *
 * @example const name = createStatementNamer(200); pg.query({ name: name(sql), text: sql, values })
 */
export function createStatementNamer(limit: number): (sql: string) => string | undefined {
  const names = new Map<string, string>();
  return (sql) => {
    const known = names.get(sql);
    if (known !== undefined || names.size >= limit) return known;
    const name = `e_${createHash('sha1').update(sql).digest('base64url')}`;
    names.set(sql, name);
    return name;
  };
}
