import { Prisma } from './generated/prisma/client.js';

// The raw statements of the hot path name columns by their Prisma fields, whose columns are the fields in
// snake_case (the schema's @map convention): one conversion for the column lists and the SET lists alike.

/** The column of a Prisma field: `repositoryFullName` → `repository_full_name`. */
function columnOf(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Column list `e.repository_full_name AS "repositoryFullName", …` of a model's scalar fields. */
export function selectFields(fields: Record<string, string>, alias: string): Prisma.Sql {
  return Prisma.raw(
    Object.keys(fields)
      .map((f) => `${alias}.${columnOf(f)} AS "${f}"`)
      .join(', '),
  );
}

/** SET assignments from Prisma field names to values; undefined values are left out. */
export function assignments(values: Record<string, unknown>): Prisma.Sql {
  const parts = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => Prisma.sql`${Prisma.raw(columnOf(k))} = ${v}`);
  return Prisma.join(parts, ', ');
}
