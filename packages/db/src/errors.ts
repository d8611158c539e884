export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(
    readonly entity: string,
    readonly key: string | number,
  ) {
    super(`${entity} ${key} not found`);
  }
}

/** A unique constraint refused the write (duplicate github_id, namespace, or repository + PR number). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  constructor(
    message: string,
    readonly fields: string[],
  ) {
    super(message);
  }
}

/** Prisma's error code for "record to update not found". */
export function isRecordNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'P2025';
}

/** Maps Prisma's unique-violation error (P2002) to a {@link ConflictError}; anything else is returned as is. */
export function asConflict(err: unknown, what: string): unknown {
  const e = err as { code?: unknown; meta?: { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: unknown } } } } } | null;
  if (e?.code !== 'P2002') return err;
  const fields =
    (Array.isArray(e.meta?.target) ? (e.meta.target as string[]) : undefined) ??
    (Array.isArray(e.meta?.driverAdapterError?.cause?.constraint?.fields)
      ? (e.meta.driverAdapterError.cause.constraint.fields as string[])
      : []);
  return new ConflictError(`${what} already exists${fields.length ? ` (${fields.join(', ')})` : ''}`, fields);
}
