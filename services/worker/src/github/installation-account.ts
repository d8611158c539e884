/**
 * The login of the account an App installation is on, as GitHub lists installations ('' for an enterprise
 * installation, which has none): what ALLOWED_ACCOUNTS is checked against.
 */
export function installationAccount(installation: { account: unknown }): string {
  const account = installation.account as { login?: unknown } | null;
  return typeof account?.login === 'string' ? account.login : '';
}
