import { repositoryIdentity, type RepositoryRef } from '@ephemera/schema';
import { Prisma } from './generated/prisma/client.js';

// "The same repository" (by GitHub's id when both sides carry one, else by full name compared case-insensitively)
// is defined once, in @ephemera/schema, as plain functions: the namespace name hashes the same identity and that
// package has no I/O and may not depend on this one. Here are its twins for the database, which a test holds to
// the TypeScript rule on PostgreSQL: a Prisma `where`, and SQL fragments over a table alias.
export { repositoryIdentity, repositoryKey, sameRepository, type RepositoryRef } from '@ephemera/schema';

/** A row's full name as the rule compares it (lower case; GitHub names are ASCII, where JavaScript and PostgreSQL fold alike). */
const foldedName = (alias: string) => `lower(${alias}.repository_full_name)`;
/** A full name as the rule compares it: the identity of a repository whose id is not known. */
const fold = (repositoryFullName: string) => repositoryIdentity({ repositoryId: null, repositoryFullName });

/**
 * The rows of `repo` as a Prisma `where` (environments, pull request states): by id, or by name for a row made
 * before the id was kept, or for a reference without one.
 */
export function repositoryWhere(repo: RepositoryRef): {
  repositoryFullName?: { equals: string; mode: 'insensitive' };
  OR?: Array<{ repositoryId: bigint } | { repositoryId: null; repositoryFullName: { equals: string; mode: 'insensitive' } }>;
} {
  // Prisma compares `mode: 'insensitive'` names with ILIKE, where `_` (common in repository names) and `%` are
  // wildcards: they are escaped so that a name matches only itself (the test of the twins holds this).
  const name = { equals: repo.repositoryFullName.replace(/[\\_%]/g, '\\$&'), mode: 'insensitive' as const };
  return repo.repositoryId === null
    ? { repositoryFullName: name }
    : { OR: [{ repositoryId: BigInt(repo.repositoryId) }, { repositoryId: null, repositoryFullName: name }] };
}

/** The rows of `repo` among those of table alias `alias`, as SQL: the twin of {@link repositoryWhere}. */
export function sameRepositorySql(alias: string, repo: RepositoryRef): Prisma.Sql {
  const a = Prisma.raw(alias);
  const name = Prisma.raw(foldedName(alias));
  const folded = fold(repo.repositoryFullName);
  return repo.repositoryId === null
    ? Prisma.sql`${name} = ${folded}`
    : Prisma.sql`(${a}.repository_id = ${BigInt(repo.repositoryId)} OR (${a}.repository_id IS NULL AND ${name} = ${folded}))`;
}

/** Whether the row of alias `alias` is named by one of `fullNames`, compared as the rule compares names. */
export function repositoryNamedSql(alias: string, fullNames: readonly string[]): Prisma.Sql {
  return Prisma.sql`${Prisma.raw(foldedName(alias))} = ANY(${repositoryNames(fullNames)}::text[])`;
}

/** Whether the rows of aliases `a` and `b` are of the same repository, as SQL text. */
export function sameRepositoryRowsSql(a: string, b: string): string {
  return `CASE WHEN ${a}.repository_id IS NOT NULL AND ${b}.repository_id IS NOT NULL THEN ${a}.repository_id = ${b}.repository_id
               ELSE ${foldedName(a)} = ${foldedName(b)} END`;
}

/**
 * Whether the row of alias `alias` is of one of the repositories listed in two query parameters (placeholders such as
 * `$1`): a `bigint[]` of ids and a `text[]` of full names already folded by {@link repositoryNames}.
 */
export function repositoryAmongSql(alias: string, ids: string, names: string): string {
  return `(${alias}.repository_id = ANY(${ids}::bigint[]) OR (${alias}.repository_id IS NULL AND ${foldedName(alias)} = ANY(${names}::text[])))`;
}

/**
 * Whether the row of alias `alias` is named by the full name in a query parameter (a placeholder such as `$1`)
 * folded by {@link repositoryNames}. The index on the folded name serves it (migration
 * 20261204093034_environment_repository_name_folded).
 */
export function repositoryNamedAsSql(alias: string, name: string): string {
  return `${foldedName(alias)} = ${name}`;
}

/** Full names folded as {@link repositoryAmongSql} and {@link repositoryNamedAsSql} compare them. */
export function repositoryNames(fullNames: readonly string[]): string[] {
  return fullNames.map(fold);
}

/** The twin of `repositoryKey`: the key of the repository of a row of alias `alias`. */
export function repositoryKeySql(alias: string): Prisma.Sql {
  return Prisma.raw(`CASE WHEN ${alias}.repository_id IS NOT NULL THEN 'repository:' || ${alias}.repository_id ELSE ${foldedName(alias)} END`);
}
