import { createInterface } from 'node:readline/promises';
import { redactUrl } from '../database-url.js';
import { Migrator } from './migrator.js';
import { defaultPrismaDir } from './prisma-dir.js';

// The database commands behind `pnpm db:*`. Output goes to stdout for people and scripts; failures exit 1
// with one line that says what to do.

const USAGE = `usage: db <command>
  migrate            apply all pending migrations
  create <name>      write prisma/migrations/<timestamp>_<name>/{migration,down}.sql from schema.prisma
  rollback           revert the last applied migration with its down.sql
  status             applied and pending migrations
  check              exit 1 when schema.prisma and the migrations disagree
  reset [--force]    drop everything and re-apply all migrations`;

/** What every command works with. */
interface CommandContext {
  migrator: Migrator;
  databaseUrl: string;
  args: string[];
  say: (line: string) => void;
}

async function migrate({ migrator, say }: CommandContext): Promise<number> {
  const applied = await migrator.migrate();
  if (applied.length === 0) say('Database is up to date: no pending migrations.');
  for (const name of applied) say(`applied ${name}`);
  return 0;
}

async function create({ migrator, args, say }: CommandContext): Promise<number> {
  const name = args.find((a) => !a.startsWith('-'));
  if (!name) {
    process.stderr.write('usage: pnpm db:migration:create <name>\n');
    return 2;
  }
  const created = await migrator.create(name);
  if (!created) {
    say('No changes: schema.prisma and the migrations agree; nothing written.');
    return 0;
  }
  say(`created ${created.dir}/migration.sql and down.sql`);
  return 0;
}

async function rollback({ migrator, say }: CommandContext): Promise<number> {
  const name = await migrator.rollback();
  say(name ? `rolled back ${name}` : 'Nothing to roll back: no migration is applied.');
  return 0;
}

async function status({ migrator, databaseUrl, say }: CommandContext): Promise<number> {
  const s = await migrator.status();
  say(`Database: ${redactUrl(databaseUrl)}`);
  say(`Applied (${s.applied.length}):`);
  for (const m of s.applied) say(`  ${m.name}  ${m.appliedAt.toISOString()}`);
  say(`Pending (${s.pending.length}):`);
  for (const name of s.pending) say(`  ${name}`);
  if (s.rolledBack.length) say(`Rolled back (${s.rolledBack.length}): ${s.rolledBack.join(', ')}`);
  if (s.failed.length) {
    say(`Failed (${s.failed.length}): ${s.failed.join(', ')}`);
    return 1;
  }
  const current = s.applied.at(-1);
  say(current ? `Current: ${current.name}` : 'Current: (empty database)');
  return 0;
}

async function check({ migrator, say }: CommandContext): Promise<number> {
  const sql = await migrator.drift();
  if (!sql) {
    say('schema.prisma and the migrations agree.');
    return 0;
  }
  process.stderr.write(
    `schema.prisma and the migrations disagree; run 'pnpm db:migration:create <name>'. Missing SQL:\n${sql}\n`,
  );
  return 1;
}

async function reset({ migrator, databaseUrl, args, say }: CommandContext): Promise<number> {
  if (!args.includes('--force')) {
    if (!process.stdin.isTTY) {
      process.stderr.write('db:reset drops every table and row; refusing without --force when not on a terminal.\n');
      return 1;
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`Drop everything in ${redactUrl(databaseUrl)} and re-apply? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      say('Aborted; nothing changed.');
      return 1;
    }
  }
  const applied = await migrator.reset();
  say(`Database reset; applied ${applied.length} migration(s).`);
  return 0;
}

const COMMANDS: Record<string, (context: CommandContext) => Promise<number>> = { migrate, create, rollback, status, check, reset };

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write('DATABASE_URL is not set: point it at the PostgreSQL database to migrate.\n');
    return 2;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const migrator = new Migrator({
    databaseUrl,
    prismaDir: defaultPrismaDir(),
    notice: say,
    ...(process.env.DB_DEBUG ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }
  return run({ migrator, databaseUrl, args, say });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
