import { z } from 'zod';
import { PG_INTEGER_MAX } from './api-schemas.js';

const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d{1,6})?\+00$/;

/** A date and time that exists (proleptic Gregorian, year 1 to 9999), so PostgreSQL reads it without an error. */
function isRealTimestamp(t: string): boolean {
  const m = TIMESTAMP.exec(t);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return year >= 1 && days !== undefined && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

// Ids are PostgreSQL integers: a larger one would make the query fail rather than find nothing.
const rowId = z.number().int().positive().max(PG_INTEGER_MAX);
// t: created_at exactly as PostgreSQL printed it in UTC ("2026-01-01 12:00:00.123456+00"), to the microsecond.
const environmentCursor = z.object({ t: z.string().refine(isRealTimestamp), i: rowId });
const deploymentCursor = z.object({ i: rowId });

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
