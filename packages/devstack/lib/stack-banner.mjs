// @ts-check
import path from 'node:path';
import { githubAppBanner } from './github-app-env.mjs';
import { bold, dim } from './log.mjs';
import { DEV_SECRET } from './development-settings.mjs';
import { ROOT } from './workspace.mjs';

/**
 * What `npm start` prints once the stack is up: where everything is and which development defaults it runs with.
 * @param {{
 *   env: NodeJS.ProcessEnv,
 *   githubApp: ReturnType<typeof import('./github-app-env.mjs').applyGithubAppEnv>,
 *   access: { apiOpen: boolean, devPassword: boolean, adminWrite: boolean },
 *   generatedSigningKey: boolean,
 *   port: (service: string) => number,
 * }} stack
 */
export function stackBanner({ env, githubApp, access, generatedSigningKey, port }) {
  const ingest = `http://localhost:${port('ingest')}`;
  const query = `http://localhost:${port('query')}`;
  return `
${bold('Ephemera is running')}
  dashboard        ${query}/  ${dim('(sign in with the operator user and password below)')}
  webhook URL      ${ingest}/api/v1/webhooks/github
  webhook secret   ${env.GITHUB_WEBHOOK_SECRET === DEV_SECRET ? `${DEV_SECRET} ${dim('(development only; set GITHUB_WEBHOOK_SECRET)')}` : dim(githubApp.fromFile.includes('GITHUB_WEBHOOK_SECRET') ? `(the GitHub App's, from ${path.relative(ROOT, githubApp.file)})` : '(from GITHUB_WEBHOOK_SECRET)')}
  GitHub App       ${githubApp.offerSetup ? bold(githubAppBanner(env, githubApp, query, ROOT)) : githubAppBanner(env, githubApp, query, ROOT)}
  API              ${query}/api/v1/environments
                   ${access.apiOpen ? `API open (API_AUTH=none) — set API_TOKENS to require a token` : `a token from API_TOKENS is required ${dim('(Authorization: Bearer <token>)')}`}
  API docs         ${query}/docs
  queues           ${query}/admin/queues
  accounts         ${env.ALLOWED_ACCOUNTS === '*' ? `every account ${dim('(ALLOWED_ACCOUNTS=*; set ALLOWED_ACCOUNTS to the GitHub accounts to serve)')}` : env.ALLOWED_ACCOUNTS}
  queue jobs       signed with ${generatedSigningKey ? `a development key ${dim('(generated once, kept in .ephemera/queue-signing-key; set QUEUE_SIGNING_KEY)')}` : dim('QUEUE_SIGNING_KEY')}
  operator         ${access.devPassword ? `user ${env.ADMIN_USERNAME}, password ${env.ADMIN_PASSWORD} ${dim('(development only; set ADMIN_USERNAME and ADMIN_PASSWORD)')}` : `user ${env.ADMIN_USERNAME}, password ${dim('(from ADMIN_PASSWORD)')}`}
                   ${access.adminWrite ? 'changes allowed (ADMIN_WRITE=true)' : `read-only ${dim('(ADMIN_WRITE=true allows retrying, cleaning and removing jobs)')}`}
  config schema    ${query}/api/v1/config-schema.json
  provisioner      ${env.PROVISIONER === 'kubernetes' ? `kubernetes (${env.KUBECONFIG ?? 'in-cluster service account'}${env.KUBE_CONTEXT ? `, context ${env.KUBE_CONTEXT}` : ''})` : `none ${dim('(simulated; PROVISIONER=kubernetes with KUBECONFIG deploys to a cluster)')}`}
  worker metrics   http://localhost:${port('worker')}/metrics
  database         ${maskUrl(env.DATABASE_URL)}
  redis            ${maskUrl(env.REDIS_URL)}

  send a signed sample pull request event:
    node packages/devstack/bin/send-sample.mjs ${ingest}
  or replay a whole pull request (opened, two pushes, closed):
    ${access.apiOpen ? 'pnpm demo' : `API_TOKEN=<one of API_TOKENS> pnpm demo`}

${dim('Ctrl-C stops everything; data stays in .ephemera/')}
`;
}

/**
 * A connection URL with its password (if any) shown as ***, for printing.
 * @param {string | undefined} url
 */
function maskUrl(url) {
  if (!url) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  }
}
