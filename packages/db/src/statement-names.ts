import { createHash } from 'node:crypto';

/** How often the names may be dropped (see {@link StatementNamer.forget}) before statements run unnamed for good. */
export const MAX_STATEMENT_RESETS = 5;

/**
 * Names for PostgreSQL prepared statements, so each connection parses a statement once and the server can settle
 * on a generic plan instead of planning the hot path's statements on every execution.
 *
 * A name is derived from the statement's text, so one text always maps to one name (node-postgres refuses a name
 * reused for different text). The number of distinct texts named is bounded: every named statement stays prepared
 * on each connection for the connection's life, and texts that vary (a list whose length varies) must not grow
 * that without limit. Once the bound is reached, texts not seen before run unnamed, as they did without a cache.
 *
 * @example const namer = new StatementNamer(200); pg.query({ name: namer.name(sql), text: sql, values })
 */
export class StatementNamer {
  private readonly names = new Map<string, string>();
  private generation = 0;
  private disabled = false;

  constructor(private readonly limit: number) {}

  name(sql: string): string | undefined {
    if (this.disabled) return undefined;
    const known = this.names.get(sql);
    if (known !== undefined || this.names.size >= this.limit) return known;
    const name = `e${this.generation}_${createHash('sha1').update(sql).digest('base64url')}`;
    this.names.set(sql, name);
    return name;
  }

  /**
   * Drops every name, so each statement is prepared again under a new one on its next use. For a prepared
   * statement the server no longer accepts: a migration changed the type of a column it returns ("cached plan must
   * not change result type"), or the server connection behind it is not the one it was prepared on (a pooler in
   * transaction mode). Past {@link MAX_STATEMENT_RESETS} drops, statements run unnamed from then on: something keeps
   * undoing them. Returns whether names are still given.
   */
  forget(): boolean {
    this.names.clear();
    this.generation += 1;
    if (this.generation > MAX_STATEMENT_RESETS) this.disabled = true;
    return !this.disabled;
  }
}

/**
 * PostgreSQL's answers that mean a prepared statement cannot be used any more: `0A000` with "cached plan must not
 * change result type", and `26000` (no such prepared statement).
 */
export function isStalePreparedStatement(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === '26000') return true;
  return e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}
