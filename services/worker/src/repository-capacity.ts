import type { Prisma, PrismaClient } from '@ephemera/db';

/**
 * MAX_ENVIRONMENTS_PER_REPO: how many environments of one repository may be alive at once. An environment
 * over the limit is kept PENDING with `waiting_since` set and its deployment queued but not started; when
 * another environment of the repository is destroyed, the oldest waiting one starts.
 *
 * Counting and starting are serialised per repository by an advisory lock (besides the per-PR lock), so two
 * pull requests opened at once cannot both take the last place.
 */
export async function lockRepository(tx: Prisma.TransactionClient, repositoryFullName: string): Promise<void> {
  const key = `repository:${repositoryFullName.toLowerCase()}`;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
}

/** Environments holding a place: every one not DESTROYED and not waiting (a FAILED one keeps its namespace). */
export async function placesTaken(tx: Prisma.TransactionClient, repositoryFullName: string, exceptId?: number): Promise<number> {
  return tx.environment.count({
    where: {
      repositoryFullName,
      status: { not: 'DESTROYED' },
      waitingSince: null,
      ...(exceptId !== undefined ? { id: { not: exceptId } } : {}),
    },
  });
}

/** Environments of the repository waiting for a place, oldest first. */
export async function waitingAhead(tx: Prisma.TransactionClient, repositoryFullName: string, since: Date): Promise<number> {
  return tx.environment.count({ where: { repositoryFullName, status: 'PENDING', waitingSince: { lt: since } } });
}

export function waitingNote(limit: number, position: number): string {
  return `This repository already has ${limit} preview${limit === 1 ? '' : 's'}, the most this installation runs at once (MAX_ENVIRONMENTS_PER_REPO). This one starts by itself when another is removed${position > 0 ? ` (${position} waiting ahead of it)` : ''}.`;
}

/**
 * Starts the oldest waiting environments of a repository while there is room. Returns the pull requests
 * started, for their follow-ups (the deploy job and the comment).
 */
export async function startWaiting(
  db: PrismaClient,
  repositoryFullName: string,
  limit: number,
): Promise<Array<{ repositoryFullName: string; prNumber: number }>> {
  if (limit <= 0) {
    // No limit (any more): nothing waits.
    const waiting = await db.environment.findMany({
      where: { repositoryFullName, waitingSince: { not: null } },
      select: { id: true, repositoryFullName: true, prNumber: true },
    });
    if (waiting.length === 0) return [];
    await db.environment.updateMany({ where: { id: { in: waiting.map((w) => w.id) } }, data: { waitingSince: null } });
    return waiting;
  }
  return db.$transaction(async (tx) => {
    await lockRepository(tx, repositoryFullName);
    const room = limit - (await placesTaken(tx, repositoryFullName));
    if (room <= 0) return [];
    const next = await tx.environment.findMany({
      where: { repositoryFullName, status: 'PENDING', waitingSince: { not: null } },
      orderBy: [{ waitingSince: 'asc' }, { id: 'asc' }],
      take: room,
      select: { id: true, repositoryFullName: true, prNumber: true },
    });
    if (next.length > 0) {
      await tx.environment.updateMany({ where: { id: { in: next.map((n) => n.id) }, status: 'PENDING' }, data: { waitingSince: null } });
    }
    return next.map(({ repositoryFullName: r, prNumber }) => ({ repositoryFullName: r, prNumber }));
  });
}

/** Repositories that have environments waiting, for the sweep (a start missed by a crash is made up there). */
export async function repositoriesWithWaiting(db: PrismaClient): Promise<string[]> {
  const rows = await db.environment.findMany({
    where: { status: 'PENDING', waitingSince: { not: null } },
    distinct: ['repositoryFullName'],
    select: { repositoryFullName: true },
    take: 500,
  });
  return rows.map((r) => r.repositoryFullName);
}
