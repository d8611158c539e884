import { z } from 'zod';

/** ALLOWED_ACCOUNTS's value that allows every account, on purpose. */
const ANY_ACCOUNT = '*';

/** A GitHub login: letters, digits and hyphens (underscores in Enterprise Managed Users' logins). */
const GITHUB_LOGIN = /^[a-z0-9][a-z0-9_-]{0,99}$/i;

/**
 * The GitHub accounts Ephemera serves (ALLOWED_ACCOUNTS): one list, applied by ingest to every delivery and by the
 * worker to every job and every pass. Logins compare in any case; a login that merely contains an allowed one is
 * another account.
 *
 * @example AccountAllowList.of(['acme']).allows('ACME') // true
 */
export class AccountAllowList {
  /** Every account. */
  static readonly ANY = new AccountAllowList(null);

  private constructor(private readonly logins: ReadonlySet<string> | null) {}

  static of(logins: readonly string[]): AccountAllowList {
    return new AccountAllowList(new Set(logins.map((login) => login.toLowerCase())));
  }

  /** True when every account is allowed (`*`, or ALLOWED_ACCOUNTS unset outside production). */
  get any(): boolean {
    return this.logins === null;
  }

  allows(login: string): boolean {
    return this.logins === null || this.logins.has(login.toLowerCase());
  }

  /** As logs show it: `*`, or the logins. */
  toString(): string {
    return this.logins === null ? ANY_ACCOUNT : [...this.logins].join(',');
  }
}

/** The account a repository (`owner/name`) belongs to: its owner, as for a pull request's delivery. */
export function repositoryAccount(fullName: string): string {
  return fullName.split('/')[0] ?? fullName;
}

/**
 * ALLOWED_ACCOUNTS once split at its commas: GitHub logins, or `*` alone for every account. The services' config
 * schemas read it with this, so ingest and the worker cannot read one list two ways.
 */
export const allowedAccountsSchema = z
  .array(z.string())
  .min(1, `must name at least one GitHub account, or be ${ANY_ACCOUNT} for every account`)
  .superRefine((logins, ctx) => {
    if (logins.includes(ANY_ACCOUNT)) {
      if (logins.length > 1) ctx.addIssue({ code: 'custom', message: `${ANY_ACCOUNT} stands alone: it allows every account` });
    } else if (!logins.every((login) => GITHUB_LOGIN.test(login))) {
      ctx.addIssue({ code: 'custom', message: `must be GitHub logins (users or organizations), comma-separated, or ${ANY_ACCOUNT} for every account` });
    }
  })
  .transform((logins) => (logins.includes(ANY_ACCOUNT) ? AccountAllowList.ANY : AccountAllowList.of(logins)));

/**
 * The rule ingest and the worker start by: in production ALLOWED_ACCOUNTS must be set, so that an install is never
 * open to whoever installs a public App by accident (`*` opens it on purpose). The problem, or null.
 */
export function allowedAccountsProblem(config: { NODE_ENV: string; ALLOWED_ACCOUNTS?: AccountAllowList | undefined }): string | null {
  if (config.NODE_ENV !== 'production' || config.ALLOWED_ACCOUNTS !== undefined) return null;
  return `ALLOWED_ACCOUNTS is not set: in production set it to the GitHub accounts (users or organizations, comma-separated) whose repositories get previews, or to ${ANY_ACCOUNT} to serve every account the App is installed on`;
}
