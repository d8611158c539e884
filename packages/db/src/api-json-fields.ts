import { deploymentResponseSchema, environmentResponseSchema } from '@ephemera/schema';

// The API's JSON is rendered by PostgreSQL (row_to_json), so the SQL that renders it has to name every field of
// the response schema in @ephemera/schema. Rather than a second hand-written list that drifts from the schema, the
// SQL is derived from the schema's keys here: each key is the column of the same name unless an expression is
// given for it. The migrator checks the result against the tables after every migration (sync-api-json.ts), so a
// migration that renames, drops or retypes a column the JSON uses fails there, not at the first write.

/** What is read of a zod schema: its kind (through optional/nullable wrappers) and what it accepts. */
interface SchemaLike {
  def: { type: string };
  safeParse(value: unknown): { success: boolean };
}

/** The JSON type a field must have, checked against the PostgreSQL type of its expression. */
export type JsonKind = 'number' | 'boolean' | 'string' | 'timestamp';

export interface ApiJsonField {
  /** The JSON key, in the schema's order. */
  key: string;
  /** The SQL giving the value, for the row alias given (`NEW` in a trigger, `e` in a query). */
  sql(row: string): string;
  /** The table column the value is, when it is a plain column (its nullability is then checked). */
  column: string | null;
  nullable: boolean;
  /** Optional in the schema: rendered only when the caller asks for it. */
  optional: boolean;
  /** null when the schema's type is not one the check knows. */
  kind: JsonKind | null;
}

export interface ApiJson {
  /** The table a row of which is one JSON object. */
  table: string;
  /** The schema's name, for messages. */
  schemaName: string;
  fields: readonly ApiJsonField[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * The fields of `shape` (a zod object's `.shape`) as SQL over `table`: each key the column of the same name,
 * unless `expressions` gives it one. A key of `expressions` the schema lacks is a type error.
 *
 * @example apiJsonFields('environments', 'environmentResponseSchema', environmentResponseSchema.shape, {
 *   owner: (row) => `(SELECT u.github_login FROM users u WHERE u.id = ${row}.owner_id)`,
 * })
 */
export function apiJsonFields<S extends Record<string, SchemaLike>>(
  table: string,
  schemaName: string,
  shape: S,
  expressions: { readonly [K in keyof S]?: (row: string) => string } = {},
): ApiJson {
  const fields = Object.entries(shape).map(([key, schema]): ApiJsonField => {
    // Keys are written into SQL unquoted by the schema's author only; anything else would need quoting rules.
    if (!IDENTIFIER.test(key)) throw new Error(`${schemaName} field "${key}" is not a plain snake_case name`);
    const expression = Object.hasOwn(expressions, key) ? expressions[key as keyof S] : undefined;
    return {
      key,
      sql: expression ?? ((row) => `${row}."${key}"`),
      column: expression ? null : key,
      nullable: schema.safeParse(null).success,
      optional: schema.safeParse(undefined).success,
      kind: jsonKind(schema),
    };
  });
  return { table, schemaName, fields };
}

function jsonKind(schema: SchemaLike): JsonKind | null {
  let s = schema;
  while (s.def.type === 'optional' || s.def.type === 'nullable') s = (s.def as unknown as { innerType: SchemaLike }).innerType;
  switch (s.def.type) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return 'string';
    case 'string':
      return (s.def as { format?: string }).format === 'datetime' ? 'timestamp' : 'string';
    default:
      return null;
  }
}

/**
 * The select list rendering `json`'s fields as `<sql> AS "<key>"`, in the schema's order, for row_to_json.
 * Optional fields are left out unless named in `include`.
 */
export function apiJsonSelectList(json: ApiJson, row: string, include: readonly string[] = [], separator = ', '): string {
  for (const key of include) {
    if (!json.fields.some((f) => f.key === key && f.optional)) {
      throw new Error(`${json.schemaName} has no optional field "${key}" to include`);
    }
  }
  return json.fields
    .filter((f) => !f.optional || include.includes(f.key))
    .map((f) => `${f.sql(row)} AS "${f.key}"`)
    .join(separator);
}

/** What a list returns of each deployment's logs (`include_logs=true`): its newest this many bytes. */
export const LISTED_LOG_MAX_BYTES = 65_536;

/**
 * An environment's API JSON, stored in environments.api_json by the trigger function the migrator derives from
 * this. The owner's login is embedded so a list needs no second request.
 */
export const environmentApiJson = apiJsonFields('environments', 'environmentResponseSchema', environmentResponseSchema.shape, {
  owner: (row) => `(SELECT u.github_login FROM users u WHERE u.id = ${row}.owner_id)`,
});

/** A deployment's API JSON, rendered at read time; `logs` only when asked, and then only their newest part. */
export const deploymentApiJson = apiJsonFields('deployments', 'deploymentResponseSchema', deploymentResponseSchema.shape, {
  // What it waits for is said only while it waits: a deployment that stopped waiting keeps the column.
  waiting_for: (row) => `CASE WHEN ${row}.status = 'WAITING' THEN ${row}.gate_waiting_for END`,
  logs: (row) => `ephemera_cap_logs(${row}.logs, ${LISTED_LOG_MAX_BYTES})`,
});
