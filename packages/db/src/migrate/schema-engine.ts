import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import pg, { type PoolConfig } from 'pg';
import { poolConfigFromUrl } from '../database-url.js';

// Prisma's native schema engine is a binary the CLI downloads on first use, which cannot happen on machines
// that reach only the npm registry. The same engine ships compiled to WebAssembly in @prisma/schema-engine-wasm
// and talks to PostgreSQL through the driver adapter, so migrations run wherever Node does, and record their
// history in _prisma_migrations exactly as `prisma migrate deploy` would.
//
// The package's entry imports the .wasm file as an ES module, which Node refuses; so the module is
// instantiated here from its bytes and handed to the generated bindings, as the entry would have done.

type Bindings = typeof import('@prisma/schema-engine-wasm');
type WasmExports = Record<string, unknown>;
// Node has WebAssembly; @types/node 20 does not declare it, and the DOM lib would declare far too much.
const { WebAssembly } = globalThis as unknown as {
  WebAssembly: {
    instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: WasmExports } }>;
  };
};
let bindings: Promise<Bindings> | undefined;

async function loadBindings(): Promise<Bindings> {
  const require = createRequire(import.meta.url);
  const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const wasmPath = bgPath.replace(/schema_engine_bg\.js$/, 'schema_engine_bg.wasm');
  const bg = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as unknown as Bindings & {
    __wbg_set_wasm(exports: WasmExports): void;
  };
  const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
    './schema_engine_bg.js': bg,
  });
  // Where the engine's Rust panics leave their message; without it a panic surfaces as a TypeError about this
  // very global instead of saying what went wrong.
  const host = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
  host.PRISMA_WASM_PANIC_REGISTRY ??= {
    set_message: (message: string) => process.stderr.write(`schema engine panicked: ${message}\n`),
  };
  bg.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return bg;
}

/**
 * The engine reads catalog columns of PostgreSQL's internal one-byte `"char"` type (pg_class.relkind,
 * pg_constraint.contype, …), which adapter-pg refuses as an unsupported column type. pg already returns their
 * values as strings, so this client reports them as text, which is what they are to the engine.
 */
class CharAsTextClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's query() has a dozen overloads
  override query(...args: any[]): any {
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (err: Error | null, res: unknown) => last(err, err ? res : charAsText(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    return result instanceof Promise ? result.then(charAsText) : result;
  }
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

function charAsText<T>(res: T): T {
  for (const r of Array.isArray(res) ? res : [res]) {
    for (const field of (r as { fields?: Array<{ dataTypeID: number }> } | null)?.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
  }
  return res;
}

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

/**
 * adapter-pg runs a script by splitting it at every `;`, which breaks any migration with a function body
 * (`$$ … ; … $$`) or a `;` in a comment. Prisma's own engine sends the whole script as one simple query, so
 * PostgreSQL parses it (and runs it as one implicit transaction); this does the same.
 */
function wholeScripts(adapter: PgAdapter): PgAdapter {
  const driver = adapter.underlyingDriver();
  adapter.executeScript = async (script: string) => {
    try {
      await driver.query(script);
    } catch (err) {
      // The adapter's own translation into the error the engine reports ("Error querying the database: …").
      (adapter as unknown as { onError(e: unknown): never }).onError(err);
    }
  };
  return adapter;
}

/**
 * adapter-pg's shadow database is dropped while its own pool still holds a connection to it, so the DROP
 * fails ("being accessed by other users") and every diff leaves a database behind. This closes the shadow
 * pool first, then drops the database, then closes the connection that created it.
 */
class ShadowSafePrismaPg extends PrismaPg {
  /** Connections the engine opened; freeing the engine does not close them, so {@link closeAll} does. */
  private readonly opened = new Set<{ dispose(): Promise<void> }>();

  constructor(private readonly poolConfig: PoolConfig) {
    super(poolConfig);
  }

  override async connect() {
    const adapter = wholeScripts(await super.connect());
    this.opened.add(adapter);
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      this.opened.delete(adapter);
      await dispose();
    };
    return adapter;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.opened].map((a) => a.dispose()));
  }

  override async connectToShadowDb() {
    const main = await this.connect();
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await main.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = wholeScripts(await new PrismaPg({ ...this.poolConfig, database }).connect());
    const closeShadow = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      try {
        await closeShadow();
        await main.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
      } finally {
        await main.dispose();
      }
    };
    return shadow;
  }
}

export interface EngineOptions {
  databaseUrl: string;
  /** schema.prisma's path (for error messages) and text. */
  schemaPath: string;
  schemaText: string;
  /** Receives the engine's log lines (JSON strings). */
  log?: (line: string) => void;
}

/** A schema engine connected to the database. Call `close()` when done. */
export async function openSchemaEngine(options: EngineOptions): Promise<{ engine: SchemaEngine; close(): Promise<void> }> {
  bindings ??= loadBindings();
  const { SchemaEngine } = await bindings;
  const factory = new ShadowSafePrismaPg({ ...poolConfigFromUrl(options.databaseUrl), Client: CharAsTextClient });
  const engine = await SchemaEngine.new(
    { datamodels: [[options.schemaPath, options.schemaText]] },
    (line: string) => options.log?.(line),
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  return {
    engine,
    async close() {
      engine.free();
      await factory.closeAll();
    },
  };
}
