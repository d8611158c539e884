import { z } from 'zod';

// t: created_at exactly as PostgreSQL printed it in UTC ("2026-01-01 12:00:00.123456+00"), to the microsecond.
const environmentCursor = z.object({
  t: z.string().regex(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00$/),
  i: z.number().int().positive(),
});
const deploymentCursor = z.object({ i: z.number().int().positive() });

/** Cursors are opaque to clients: base64url of a small JSON key. Anything else is a 400, never a 500. */
function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode<T>(schema: z.ZodType<T>, cursor: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const environmentCursors = {
  encode: (createdKey: string, id: number) => encode({ t: createdKey, i: id }),
  decode: (cursor: string) => {
    const c = decode(environmentCursor, cursor);
    return c ? { createdAt: c.t, id: c.i } : null;
  },
};

export const deploymentCursors = {
  encode: (id: number) => encode({ i: id }),
  decode: (cursor: string) => decode(deploymentCursor, cursor)?.i ?? null,
};
