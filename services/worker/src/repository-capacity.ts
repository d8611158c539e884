import { lockRepository, repositoryWhere, type Prisma, type PrismaClient, type RepositoryRef } from '@ephemera/db';

/**
 * MAX_ENVIRONMENTS_PER_REPO: how many environments of one repository may be alive at once. An environment
 * over the limit is kept PENDING with `waiting_since` set and its deployment queued but not started; when
 * another environment of the repository is destroyed, the oldest waiting one starts.
 *
 * Counting and starting are serialised per repository by an advisory lock (besides the per-PR lock), so two
 * pull requests opened at once cannot both take the last place.
 */
export { lockRepository };

/** A repository, by GitHub's id (rows from before the id was kept are matched by name). */
export type { RepositoryRef };

const ofRepository = (repo: RepositoryRef): Prisma.EnvironmentWhereInput => repositoryWhere(repo);

/** Environments holding a place: every one not DESTROYED and not waiting (a FAILED one keeps its namespace). */
export async function placesTaken(tx: Prisma.TransactionClient, repo: RepositoryRef, exceptId?: number): Promise<number> {
  return tx.environment.count({
    where: {
      ...ofRepository(repo),
      status: { not: 'DESTROYED' },
      waitingSince: null,
      ...(exceptId !== undefined ? { id: { not: exceptId } } : {}),
    },
  });
}

/** Environments of the repository waiting for a place, oldest first. */
export async function waitingAhead(tx: Prisma.TransactionClient, repo: RepositoryRef, since: Date): Promise<number> {
  return tx.environment.count({ where: { ...ofRepository(repo), status: 'PENDING', waitingSince: { lt: since } } });
}

export function waitingNote(limit: number, position: number): string {
  return `This repository already has ${limit} preview${limit === 1 ? '' : 's'}, the most this installation runs at once (MAX_ENVIRONMENTS_PER_REPO). This one starts by itself when another is removed${position > 0 ? ` (${position} waiting ahead of it)` : ''}.`;
}

const STARTED = { id: true, repositoryId: true, repositoryFullName: true, prNumber: true } as const;
export type StartedEnvironment = { id: number; repositoryId: bigint | null; repositoryFullName: string; prNumber: number };

/**
 * Starts the oldest waiting environments of a repository while there is room. Returns the environments started,
 * for their follow-ups (the deploy job and the comment).
 */
export async function startWaiting(db: PrismaClient, repo: RepositoryRef, limit: number): Promise<StartedEnvironment[]> {
  if (limit <= 0) {
    // No limit (any more): nothing waits.
    const waiting = await db.environment.findMany({ where: { ...ofRepository(repo), waitingSince: { not: null } }, select: STARTED });
    if (waiting.length === 0) return [];
    await db.environment.updateMany({ where: { id: { in: waiting.map((w) => w.id) } }, data: { waitingSince: null } });
    return waiting;
  }
  return db.$transaction(async (tx) => {
    await lockRepository(tx, repo);
    const room = limit - (await placesTaken(tx, repo));
    if (room <= 0) return [];
    const next = await tx.environment.findMany({
      where: { ...ofRepository(repo), status: 'PENDING', waitingSince: { not: null } },
      orderBy: [{ waitingSince: 'asc' }, { id: 'asc' }],
      take: room,
      select: STARTED,
    });
    if (next.length > 0) {
      await tx.environment.updateMany({ where: { id: { in: next.map((n) => n.id) }, status: 'PENDING' }, data: { waitingSince: null } });
    }
    return next;
  });
}

/** Repositories that have environments waiting, for the sweep (a start missed by a crash is made up there). */
export async function repositoriesWithWaiting(db: PrismaClient): Promise<RepositoryRef[]> {
  return db.environment.findMany({
    where: { status: 'PENDING', waitingSince: { not: null } },
    distinct: ['repositoryId', 'repositoryFullName'],
    select: { repositoryId: true, repositoryFullName: true },
    take: 500,
  });
}
