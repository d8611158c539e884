import type { Db } from './db-client.js';
import type { Environment, PullRequestState } from './generated/prisma/client.js';

// row_to_json renders timestamps as text and bigints as numbers: they are turned back into what Prisma returns.
// Which fields those are comes from Prisma's data model (each model's field references, whose `typeName` is the
// schema's type), so a DateTime or BigInt column added to schema.prisma is revived without a list to update. The
// generated client (the `prisma-client` generator) exports no `Prisma.dmmf`; the field references are its public
// view of the same data model.

type RevivedModel = 'environment' | 'pullRequestState';
interface FieldKinds {
  dates: ReadonlySet<string>;
  bigints: ReadonlySet<string>;
}

const kinds = new Map<RevivedModel, FieldKinds>();

/** The model's DateTime and BigInt fields; the data model is the same for every client, so it is read once. */
function fieldKinds(db: Db, model: RevivedModel): FieldKinds {
  let known = kinds.get(model);
  if (!known) {
    const fields = Object.values(db[model].fields as unknown as Record<string, { name: string; typeName: string }>);
    const named = (type: string) => new Set(fields.filter((f) => f.typeName === type).map((f) => f.name));
    known = { dates: named('DateTime'), bigints: named('BigInt') };
    kinds.set(model, known);
  }
  return known;
}

function revive<T>(json: Record<string, unknown>, { dates, bigints }: FieldKinds): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    if (v !== null && dates.has(k)) out[k] = new Date(v as string);
    else if (v !== null && bigints.has(k)) out[k] = BigInt(v as number | string);
    else out[k] = v;
  }
  return out as T;
}

/** An environment row read as JSON (`row_to_json`), as Prisma would have returned it. */
export const environmentFromJson = (db: Db, json: Record<string, unknown>): Environment => revive(json, fieldKinds(db, 'environment'));

/** A pull request state row read as JSON (`row_to_json`), as Prisma would have returned it. */
export const stateFromJson = (db: Db, json: Record<string, unknown>): PullRequestState => revive(json, fieldKinds(db, 'pullRequestState'));
