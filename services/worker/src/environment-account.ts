import type { PrismaClient } from '@ephemera/db';
import { repositoryAccount, type AccountAllowList } from '@ephemera/schema';

/** The GitHub account an environment's repository belongs to, or null when the environment is gone. */
export async function environmentAccount(db: PrismaClient, environmentId: number): Promise<string | null> {
  const env = await db.environment.findUnique({ where: { id: environmentId }, select: { repositoryFullName: true } });
  return env ? repositoryAccount(env.repositoryFullName) : null;
}

/** Whether an environment's repository belongs to an account of ALLOWED_ACCOUNTS. */
export function isServed(accounts: AccountAllowList, env: { repositoryFullName: string }): boolean {
  return accounts.allows(repositoryAccount(env.repositoryFullName));
}
