import type { PrismaClient } from '@ephemera/db';
import { repositoryAccount } from '@ephemera/schema';

/** The GitHub account an environment's repository belongs to, or null when the environment is gone. */
export async function environmentAccount(db: PrismaClient, environmentId: number): Promise<string | null> {
  const env = await db.environment.findUnique({ where: { id: environmentId }, select: { repositoryFullName: true } });
  return env ? repositoryAccount(env.repositoryFullName) : null;
}
