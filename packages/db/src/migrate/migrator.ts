import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { DiffTarget, MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm';
import { poolConfigFromUrl } from '../database-url.js';
import { openSchemaEngine } from './schema-engine.js';
import { migrationDirName, readDownSql, readMigrationList, writeMigration } from './migration-files.js';
import { syncApiJson } from './sync-api-json.js';

const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

export interface MigratorOptions {
  databaseUrl: string;
  /** The folder holding schema.prisma and migrations/. */
  prismaDir: string;
  /** Engine log lines (JSON), for debugging. */
  log?: (line: string) => void;
  /** What a person running the migrations should know beyond the applied names (the API JSON re-rendered, …). */
  notice?: (line: string) => void;
}

export interface AppliedMigration {
  name: string;
  appliedAt: Date;
}

export interface MigrationStatus {
  applied: AppliedMigration[];
  pending: string[];
  /** Migrations that started and did not finish: the database needs a look before anything else runs. */
  failed: string[];
  /** Applied rows that `rollback` reverted (kept in _prisma_migrations as an audit trail). */
  rolledBack: string[];
}

export interface CreatedMigration {
  name: string;
  dir: string;
  upSql: string;
  downSql: string;
}

/**
 * Prisma-format migrations without Prisma's native engine: apply, create (with a down.sql), roll back, reset,
 * report status and detect drift. The history lives in _prisma_migrations, as the Prisma CLI keeps it.
 *
 * @example await new Migrator({ databaseUrl, prismaDir: 'prisma' }).migrate()
 */
export class Migrator {
  readonly migrationsDir: string;
  readonly schemaPath: string;

  constructor(private readonly options: MigratorOptions) {
    this.migrationsDir = path.join(options.prismaDir, 'migrations');
    this.schemaPath = path.join(options.prismaDir, 'schema.prisma');
  }

  /**
   * Applies every pending migration in order, then checks the API's JSON against the tables and installs what is
   * derived from it (see sync-api-json.ts); returns the names applied. Rejects, naming the fields, when a
   * migration took away a column the JSON uses.
   */
  async migrate(): Promise<string[]> {
    const migrationsList = await readMigrationList(this.migrationsDir);
    const applied = await this.withEngine(async (engine) => {
      const out = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
      return out.appliedMigrationNames;
    });
    await this.inTransaction(async (client) => {
      const { replaced } = await syncApiJson(client, 'migrate');
      if (replaced) this.options.notice?.("environments' API JSON: render function updated from the schema, rows re-rendered");
    });
    return applied;
  }

  async status(): Promise<MigrationStatus> {
    const list = await readMigrationList(this.migrationsDir);
    const rows = await this.historyRows();
    const live = rows.filter((r) => r.rolled_back_at === null);
    const applied = live
      .filter((r) => r.finished_at !== null)
      .map((r) => ({ name: r.migration_name, appliedAt: r.finished_at! }));
    const failed = live.filter((r) => r.finished_at === null).map((r) => r.migration_name);
    const appliedNames = new Set(applied.map((a) => a.name));
    const pending = list.migrationDirectories.map((d) => d.path).filter((name) => !appliedNames.has(name));
    const rolledBack = rows
      .filter((r) => r.rolled_back_at !== null && !appliedNames.has(r.migration_name))
      .map((r) => r.migration_name);
    return { applied, pending, failed, rolledBack: [...new Set(rolledBack)] };
  }

  /**
   * SQL that would bring the migrations up to schema.prisma; empty when they agree. Replays the migrations in a
   * throwaway shadow database, so the role needs CREATEDB.
   */
  async drift(): Promise<string> {
    const migrationsList = await readMigrationList(this.migrationsDir);
    const schema = await this.schemaContainer();
    return this.withEngine(async (engine) => meaningfulSql(await diffScript(engine, migrationsTarget(migrationsList), { tag: 'schemaDatamodel', ...schema })));
  }

  /**
   * Writes migrations/<timestamp>_<name>/migration.sql (migrations → schema.prisma) and its down.sql
   * (schema.prisma → migrations). Returns null, writing nothing, when there is no difference.
   */
  async create(name: string, now = new Date()): Promise<CreatedMigration | null> {
    const dirName = migrationDirName(name, now);
    const migrationsList = await readMigrationList(this.migrationsDir);
    const schema = await this.schemaContainer();
    const migrations = migrationsTarget(migrationsList);
    const datamodel: DiffTarget = { tag: 'schemaDatamodel', ...schema };
    const [upSql, downSql] = await this.withEngine(async (engine) => [await diffScript(engine, migrations, datamodel), await diffScript(engine, datamodel, migrations)]);
    if (!meaningfulSql(upSql)) return null;
    const dir = await writeMigration(this.migrationsDir, dirName, upSql, downSql);
    return { name: dirName, dir, upSql, downSql };
  }

  /**
   * Reverts the last applied migration with its down.sql and marks it rolled back, in one transaction:
   * either both happen or neither does. Returns the migration's name, or null when nothing is applied. When the
   * down.sql took away a column the environments' API JSON renders, the render function leaves that field out
   * (said through `notice`), so the version rolled back to can still write environments.
   */
  async rollback(): Promise<string | null> {
    return this.withClient(async (client) => {
      if (!(await historyTableExists(client))) return null;
      const { rows } = await client.query<{ id: string; migration_name: string }>(
        `SELECT id, migration_name FROM _prisma_migrations
          WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
          ORDER BY migration_name DESC, started_at DESC LIMIT 1`,
      );
      const last = rows[0];
      if (!last) return null;
      const downSql = await readDownSql(this.migrationsDir, last.migration_name);
      const { replaced, omitted } = await transaction(client, async () => {
        await client.query(downSql);
        // The down script of the first migration drops _prisma_migrations' neighbours, never the table itself.
        await client.query('UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = $1', [last.id]);
        return syncApiJson(client, 'rollback');
      });
      if (replaced && omitted.length) {
        this.options.notice?.(
          `environments' API JSON now leaves out ${omitted.join(', ')} (the rolled-back schema has no column for them); the next migrate puts them back`,
        );
      }
      return last.migration_name;
    });
  }

  /** Drops everything in the database, then applies every migration. */
  async reset(): Promise<string[]> {
    await this.withEngine((engine) => engine.reset({ filter: NO_FILTER }));
    return this.migrate();
  }

  private async withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client(poolConfigFromUrl(this.options.databaseUrl));
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  private inTransaction<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.withClient((client) => transaction(client, () => fn(client)));
  }

  private async withEngine<T>(fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
    const { engine, close } = await openSchemaEngine({
      databaseUrl: this.options.databaseUrl,
      schemaPath: this.schemaPath,
      schemaText: await readFile(this.schemaPath, 'utf8'),
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    try {
      return await fn(engine);
    } catch (err) {
      throw engineError(err);
    } finally {
      await close();
    }
  }

  private async schemaContainer() {
    return { files: [{ path: this.schemaPath, content: await readFile(this.schemaPath, 'utf8') }] };
  }

  private async historyRows() {
    return this.withClient(async (client) => {
      if (!(await historyTableExists(client))) return [];
      const { rows } = await client.query<{
        migration_name: string;
        finished_at: Date | null;
        rolled_back_at: Date | null;
      }>('SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at');
      return rows;
    });
  }
}

async function transaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

/** The schema the migrations build; with none yet, the engine wants `empty` rather than an empty folder. */
function migrationsTarget(list: MigrationList): DiffTarget {
  return list.migrationDirectories.length === 0 ? { tag: 'empty' } : { tag: 'migrations', ...list };
}

async function historyTableExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('_prisma_migrations') AS t");
  return rows[0]?.t != null;
}

/** The SQL script that takes schema `from` to schema `to`, as the engine writes it. */
async function diffScript(engine: SchemaEngine, from: DiffTarget, to: DiffTarget): Promise<string> {
  const res = await engine.diff({ from, to, script: true, exitCode: null, filters: NO_FILTER });
  return res.stdout ?? '';
}

/** The engine's diff of two equal schemas is a comment ("-- This is an empty migration."), not an empty string. */
function meaningfulSql(sql: string): string {
  const statements = sql
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('--'))
    .join('\n');
  return statements.trim() === '' ? '' : sql;
}

/** The engine rejects with JSON-ish objects; turn them into Errors with a readable message. */
function engineError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err && typeof err === 'object') {
    const o = err as { message?: unknown; error?: unknown; meta?: unknown };
    const message = typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : undefined;
    if (message) return new Error(message);
  }
  return new Error(`schema engine error: ${JSON.stringify(err)}`);
}
