import type { Prisma } from '@ephemera/db';

/**
 * Serialises every state change of one pull request across all worker processes: a transaction-scoped
 * PostgreSQL advisory lock on the PR's key, released at commit or rollback.
 */
export async function lockPullRequest(tx: Prisma.TransactionClient, repositoryFullName: string, prNumber: number) {
  const key = `${repositoryFullName.toLowerCase()}#${prNumber}`;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
}
