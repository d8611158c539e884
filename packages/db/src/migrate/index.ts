export { Migrator, type MigratorOptions, type MigrationStatus, type CreatedMigration } from './migrator.js';
export { defaultPrismaDir } from './prisma-dir.js';
