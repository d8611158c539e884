import type pg from 'pg';
import { apiJsonSelectList, deploymentApiJson, environmentApiJson, type ApiJson, type ApiJsonField, type JsonKind } from '../api-json-fields.js';

// The API's JSON is derived from the response schemas (api-json-fields.ts), not written into a migration: a
// migration's SQL is history and cannot follow the schema. So after the migrations have run, the migrator
// 1. checks every field's SQL against the tables as they now are (`SELECT <expression> FROM <table> LIMIT 0`, its
//    PostgreSQL type against the schema's JSON type, and a plain column's nullability against the schema's), and
//    fails naming the field and the column: a migration that renames or drops a column the JSON uses then fails
//    in every test suite (each migrates a scratch database) and at deploy time, not at the first write;
// 2. installs the trigger function that renders environments.api_json, generated from the same fields, like a
//    repeatable migration: CREATE OR REPLACE only when its text changed, and only then are the existing rows
//    re-rendered. The trigger itself, the owner-rename trigger on users and api_json's NOT NULL stay as the
//    environment_api_json migration made them.

export const RENDER_FUNCTION = 'environments_render_api_json';
const RENDER_TRIGGER = 'environments_api_json';
/** Serialises concurrent migrators over the install (the schema engine takes its own lock for the migrations). */
const LOCK_KEY = 0x45504a53; // "EPJS"

/** The trigger function's body: the environment's JSON as the API returns it, timestamps in UTC. */
export function renderFunctionBody(json: ApiJson = environmentApiJson): string {
  return `
DECLARE
  -- row_to_json writes timestamps in the session's time zone, and the API's are UTC. Switching the zone costs more
  -- than the rendering, so it is switched only when the writing session is not already in UTC (Ephemera's own
  -- sessions are), and put back at once.
  zone text := current_setting('TimeZone');
  switch boolean := zone NOT IN ('UTC', 'Etc/UTC');
BEGIN
  IF switch THEN
    PERFORM set_config('TimeZone', 'UTC', true);
  END IF;
  -- Generated from ${json.schemaName} by @ephemera/db (src/api-json-fields.ts) when migrating; do not edit here.
  NEW.api_json := (SELECT row_to_json(r)::text FROM (SELECT
    ${apiJsonSelectList(json, 'NEW', [], ',\n    ')}) r);
  IF switch THEN
    PERFORM set_config('TimeZone', zone, true);
  END IF;
  RETURN NEW;
END
`;
}

export interface SyncApiJsonResult {
  /** The function was (re)installed and the environments re-rendered. */
  replaced: boolean;
  /** Rollback only: fields left out of the environments' JSON because the rolled-back schema lacks their columns. */
  omitted: string[];
}

/**
 * Checks the API JSON's fields against the tables and installs the render function when its text changed.
 * Runs in the caller's transaction.
 *
 * - `migrate`: any field that does not fit the tables is an error naming each such field.
 * - `rollback`: a down.sql may have dropped a column that a newer schema renders (rolling back the migration that
 *   added it); the function then renders the fields whose SQL still runs, so writes keep working for the version
 *   being rolled back to, and the next migrate puts the rest back.
 */
export async function syncApiJson(client: pg.ClientBase, mode: 'migrate' | 'rollback'): Promise<SyncApiJsonResult> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
  const installed = await installedBody(client);
  let json = environmentApiJson;
  let omitted: string[] = [];
  if (mode === 'migrate') {
    const problems = [
      ...(await fieldProblems(client, environmentApiJson)),
      ...(await fieldProblems(client, deploymentApiJson)),
      ...(installed === null ? [`function ${RENDER_FUNCTION}() does not exist`] : []),
      ...((await triggerExists(client)) ? [] : [`trigger ${RENDER_TRIGGER} on environments does not exist`]),
    ];
    if (problems.length) {
      throw new Error(
        "The API's JSON does not fit the database as migrated: a migration renamed, dropped or retyped a column it " +
          'uses. Change the migration, or the response schema in @ephemera/schema (and its SQL in ' +
          `packages/db/src/api-json-fields.ts) with it:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    }
  } else {
    // Rolled back to before the function existed: there is nothing to keep in step.
    if (installed === null || !(await columnExists(client, 'environments', 'api_json'))) return { replaced: false, omitted };
    omitted = await unrenderable(client, environmentApiJson);
    if (omitted.length === 0) return { replaced: false, omitted };
    json = { ...environmentApiJson, fields: environmentApiJson.fields.filter((f) => !omitted.includes(f.key)) };
  }
  const body = renderFunctionBody(json);
  if (body === installed) return { replaced: false, omitted };
  await client.query(`CREATE OR REPLACE FUNCTION "${RENDER_FUNCTION}"() RETURNS trigger LANGUAGE plpgsql AS $$${body}$$`);
  // Any update renders a row (the trigger sets api_json, which is NOT NULL).
  await client.query('UPDATE environments SET api_json = NULL');
  return { replaced: true, omitted };
}

async function installedBody(client: pg.ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ src: string }>(
    `SELECT prosrc AS src FROM pg_proc WHERE oid = to_regprocedure($1)`,
    [`${RENDER_FUNCTION}()`],
  );
  return rows[0]?.src ?? null;
}

async function triggerExists(client: pg.ClientBase): Promise<boolean> {
  const { rowCount } = await client.query(
    `SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('environments') AND tgname = $1 AND tgenabled <> 'D'`,
    [RENDER_TRIGGER],
  );
  return (rowCount ?? 0) > 0;
}

async function columnExists(client: pg.ClientBase, table: string, column: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped',
    [table, column],
  );
  return (rowCount ?? 0) > 0;
}

/** PostgreSQL types row_to_json writes as JSON numbers and booleans; everything else becomes a string. */
const NUMBER_TYPES = new Set([20, 21, 23, 700, 701, 1700]); // int8, int2, int4, float4, float8, numeric
const BOOLEAN_TYPES = new Set([16]);
const JSON_TYPES = new Set([114, 3802]); // json, jsonb: any JSON type
const TIMESTAMPTZ = 1184; // the only type written with its UTC offset

function fits(kind: JsonKind, typeOid: number): boolean {
  if (JSON_TYPES.has(typeOid)) return true;
  switch (kind) {
    case 'number':
      return NUMBER_TYPES.has(typeOid);
    case 'boolean':
      return BOOLEAN_TYPES.has(typeOid);
    case 'timestamp':
      return typeOid === TIMESTAMPTZ;
    case 'string':
      return !NUMBER_TYPES.has(typeOid) && !BOOLEAN_TYPES.has(typeOid);
  }
}

const KIND_NAMES: Record<JsonKind, string> = {
  number: 'a number',
  boolean: 'a boolean',
  string: 'a string',
  timestamp: 'a timestamp with its offset (timestamptz)',
};

interface FieldOutcome {
  field: ApiJsonField;
  /** The expression's type, or the error running it. */
  result: { typeOid: number } | { error: string };
}

/** Runs each field's SQL against the table without reading a row, each in a savepoint so one failure stops none. */
async function tryFields(client: pg.ClientBase, json: ApiJson): Promise<FieldOutcome[]> {
  const outcomes: FieldOutcome[] = [];
  for (const field of json.fields) {
    await client.query('SAVEPOINT api_json_field');
    try {
      const res = await client.query(`SELECT ${field.sql('t')} AS v FROM "${json.table}" t LIMIT 0`);
      await client.query('RELEASE SAVEPOINT api_json_field');
      outcomes.push({ field, result: { typeOid: res.fields[0]!.dataTypeID } });
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT api_json_field');
      outcomes.push({ field, result: { error: err instanceof Error ? err.message : String(err) } });
    }
  }
  return outcomes;
}

async function fieldProblems(client: pg.ClientBase, json: ApiJson): Promise<string[]> {
  const { rows: columns } = await client.query<{ name: string; not_null: boolean }>(
    'SELECT attname AS name, attnotnull AS not_null FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
    [json.table],
  );
  if (columns.length === 0) return [`table ${json.table} (of ${json.schemaName}) does not exist`];
  const notNull = new Map(columns.map((c) => [c.name, c.not_null]));
  const problems: string[] = [];
  for (const { field, result } of await tryFields(client, json)) {
    const what = `${json.schemaName} field "${field.key}"`;
    const source = field.column ? `column ${json.table}.${field.column}` : `${field.sql(json.table)}`;
    if (field.column && !notNull.has(field.column)) {
      problems.push(`${what} reads ${source}, which does not exist`);
      continue;
    }
    if ('error' in result) {
      problems.push(`${what} reads ${source}, which fails: ${result.error}`);
      continue;
    }
    if (field.kind && !fits(field.kind, result.typeOid)) {
      const { rows } = await client.query<{ t: string }>('SELECT format_type($1, NULL) AS t', [result.typeOid]);
      problems.push(`${what} is ${KIND_NAMES[field.kind]}, but ${source} is ${rows[0]?.t ?? `type ${result.typeOid}`}`);
    }
    if (field.column && !field.nullable && notNull.get(field.column) === false) {
      problems.push(`${what} is never null, but ${source} allows NULL`);
    }
  }
  return problems;
}

async function unrenderable(client: pg.ClientBase, json: ApiJson): Promise<string[]> {
  return (await tryFields(client, json)).filter((o) => 'error' in o.result).map((o) => o.field.key);
}
