export type GithubRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

export const ROLE_RANK: Record<GithubRole, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

/** The `permissions` GitHub shows for a role, on a repository and on a collaborator. */
export function permissionsOf(role: GithubRole): Record<'admin' | 'maintain' | 'push' | 'triage' | 'pull', boolean> {
  const rank = ROLE_RANK[role];
  return { admin: rank >= ROLE_RANK.admin, maintain: rank >= ROLE_RANK.maintain, push: rank >= ROLE_RANK.write, triage: rank >= ROLE_RANK.triage, pull: rank >= ROLE_RANK.read };
}
