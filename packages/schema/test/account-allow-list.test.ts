import { describe, expect, it } from '@jest/globals';
import { AccountAllowList, allowedAccountsProblem, allowedAccountsSchema, repositoryAccount } from '../src/account-allow-list.js';

describe(AccountAllowList.name, () => {
  it('allows the listed accounts in any case, and no look-alike', () => {
    const sut = AccountAllowList.of(['Octo-Org', 'codertocat']);
    expect(['octo-org', 'OCTO-ORG', 'Codertocat'].every((login) => sut.allows(login))).toBe(true);
    expect(['octo', 'octo-org-evil', 'xcodertocat', '', '*'].some((login) => sut.allows(login))).toBe(false);
    expect(sut.any).toBe(false);
    expect(String(sut)).toBe('octo-org,codertocat');
  });

  it('ANY allows every account', () => {
    expect(AccountAllowList.ANY.any).toBe(true);
    expect(AccountAllowList.ANY.allows('whoever')).toBe(true);
    expect(String(AccountAllowList.ANY)).toBe('*');
  });
});

describe('ALLOWED_ACCOUNTS', () => {
  it('reads logins, or * alone for every account', () => {
    expect(allowedAccountsSchema.parse(['acme', 'Octo-Org']).allows('octo-org')).toBe(true);
    expect(allowedAccountsSchema.parse(['*'])).toBe(AccountAllowList.ANY);
    expect(() => allowedAccountsSchema.parse([])).toThrow(/at least one GitHub account/);
    expect(() => allowedAccountsSchema.parse(['acme', '*'])).toThrow(/stands alone/);
    expect(() => allowedAccountsSchema.parse(['acme/app'])).toThrow(/must be GitHub logins/);
  });

  it('refuses a list with one login that is not a GitHub login among good ones, and says why', () => {
    const messages = (logins: string[]) => allowedAccountsSchema.safeParse(logins).error?.issues.map((i) => i.message);
    expect(messages(['acme', 'acme/app', 'octo-org'])).toEqual(['must be GitHub logins (users or organizations), comma-separated, or * for every account']);
    expect(messages(['*', 'acme'])).toEqual(['* stands alone: it allows every account']);
  });

  it('is required in production only', () => {
    expect(allowedAccountsProblem({ NODE_ENV: 'production' })).toMatch(/^ALLOWED_ACCOUNTS is not set/);
    expect(allowedAccountsProblem({ NODE_ENV: 'production', ALLOWED_ACCOUNTS: AccountAllowList.ANY })).toBeNull();
    expect(allowedAccountsProblem({ NODE_ENV: 'development' })).toBeNull();
  });

  it("a repository's account is its owner", () => {
    expect(repositoryAccount('Codertocat/Hello-World')).toBe('Codertocat');
  });
});
