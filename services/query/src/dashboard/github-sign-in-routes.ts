import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import { sameToken } from '../access.js';
import { sendPage, signedCookie, type DashboardContext } from './dashboard-context.js';
import { GITHUB_SIGN_IN_CALLBACK_PATH, newPkce, type GithubSignIn } from './github-sign-in.js';
import { messagePage, noRepositoryPage } from './message-pages.js';
import { revokeToken, startSession } from './sessions.js';

/** GitHub's answer, its code traded for the person's token: a session for someone who reaches a repository, else none. */
async function completeSignIn(ctx: DashboardContext, github: GithubSignIn, res: Response, code: string, verifier: string) {
  let token: string | undefined;
  try {
    token = await github.exchange(code, verifier);
    const login = await github.login(token);
    const access = await github.access(token);
    if (access.repositories.length === 0) {
      // Nothing to show them: no session, and no token kept.
      ctx.logger.info({ login }, 'GitHub sign-in of someone who reaches no repository the App serves');
      await revokeToken(ctx, token, login);
      return sendPage(res, 403, 'No repository', noRepositoryPage(login));
    }
    ctx.logger.info({ login, repositories: access.repositories.length }, 'signed in to the dashboard with GitHub');
    return await startSession(ctx, res, { kind: 'github', login, githubToken: token, access });
  } catch (err) {
    ctx.logger.warn({ err: { message: (err as Error).message } }, 'GitHub sign-in failed');
    await revokeToken(ctx, token, '(unknown)');
    return sendPage(res, 502, 'Sign-in failed', messagePage('Sign-in failed', 'GitHub did not complete the sign-in: please try again.'));
  }
}

/** "Sign in with GitHub" (OAuth with PKCE): `/auth/github` and GitHub's callback. Not served without GitHub sign-in. */
export function githubSignInRoutes(ctx: DashboardContext, router: Router): void {
  const github = ctx.deps.github;
  if (!github) return;
  router.get('/auth/github', (_req, res) => {
    // The state ties GitHub's answer to this browser; the PKCE verifier, which only this browser's cookie holds,
    // makes a code that leaks (or is carried into another browser's sign-in) worthless.
    const state = randomBytes(24).toString('base64url');
    const pkce = newPkce();
    res.cookie(ctx.names.oauthState, `${state}.${pkce.verifier}`, ctx.cookieOptions(10 * 60_000));
    res.redirect(302, github.authorizeUrl(state, pkce.challenge));
  });
  router.get(GITHUB_SIGN_IN_CALLBACK_PATH, async (req: Request, res: Response) => {
    const { code, state } = req.query;
    const [expected, verifier] = (signedCookie(req, ctx.names.oauthState) ?? '').split('.');
    res.clearCookie(ctx.names.oauthState, ctx.clearOptions);
    if (typeof code !== 'string' || !verifier || !sameToken(state, expected)) {
      return sendPage(res, 400, 'Sign-in failed', messagePage('Sign-in failed', 'The answer from GitHub did not match this browser\'s sign-in: please sign in again.'));
    }
    return completeSignIn(ctx, github, res, code, verifier);
  });
}
