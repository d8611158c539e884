import type { Db } from './db-client.js';
import type { User } from './generated/prisma/client.js';
import { asConflict } from './errors.js';

export interface GithubUserInput {
  githubId: number | bigint;
  githubLogin: string;
  email?: string | null;
  avatarUrl?: string | null;
}

export async function getUserByGithubId(db: Db, githubId: number | bigint): Promise<User | null> {
  return db.user.findUnique({ where: { githubId: BigInt(githubId) } });
}

/** Inserts a user; a second user with the same github_id is a {@link ConflictError}. */
export async function createUser(db: Db, input: GithubUserInput): Promise<User> {
  try {
    return await db.user.create({
      data: {
        githubId: BigInt(input.githubId),
        githubLogin: input.githubLogin,
        email: input.email ?? null,
        avatarUrl: input.avatarUrl ?? null,
      },
    });
  } catch (err) {
    throw asConflict(err, `user with github_id ${input.githubId}`);
  }
}

/**
 * The user for a GitHub account, created on first sight and kept in sync afterwards (logins get renamed,
 * avatars change). A single upsert, so two workers seeing the same new author cannot both insert it. Webhook
 * payloads rarely carry an email, so an absent email never erases one already known.
 */
export async function getOrCreateUser(db: Db, input: GithubUserInput): Promise<User> {
  const githubId = BigInt(input.githubId);
  const sync = {
    githubLogin: input.githubLogin,
    ...(input.avatarUrl != null ? { avatarUrl: input.avatarUrl } : {}),
    ...(input.email != null ? { email: input.email } : {}),
  };
  return db.user.upsert({
    where: { githubId },
    create: { githubId, email: null, avatarUrl: null, ...sync },
    update: sync,
  });
}
