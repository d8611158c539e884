import type { RequestHandler, Response } from 'express';
import type { SetupContext } from './create-setup.js';
import { saveGithubAppEnvFile } from './github-app-env-file.js';
import { isLocalRequest } from './local-request.js';
import { ManifestCodeRefusedError, type ConvertedApp } from './manifest-conversion.js';
import { setupDonePage, setupMessagePage } from './setup-pages.js';
import { setupState } from './setup-state.js';

/** GitHub's codes are hex; a little slack, none for anything that is not a URL-safe word. */
const CODE = /^[A-Za-z0-9_-]{1,200}$/;

/** Trades the code for the App's credentials; on failure answers (400 for a refused code, 502 otherwise) and returns null. */
async function convert(ctx: SetupContext, res: Response, code: string): Promise<ConvertedApp | null> {
  try {
    return await ctx.deps.conversion.convert(code);
  } catch (err) {
    ctx.deps.logger.warn({ err: { message: (err as Error).message } }, 'GitHub did not convert a /setup code');
    if (err instanceof ManifestCodeRefusedError) {
      ctx.send(res, 400, 'Setup failed', setupMessagePage('GitHub did not accept the code', 'A code from GitHub is good once, for an hour, and this one is not (any more). Nothing was saved.'));
    } else {
      ctx.send(res, 502, 'Setup failed', setupMessagePage('GitHub did not answer', 'GitHub did not hand over the App\'s credentials. Nothing was saved; the App may exist on GitHub all the same: if so, delete it there (Settings, Developer settings, GitHub Apps) before starting again.'));
    }
    return null;
  }
}

/** Saves the App's credentials to the env file (never logged, never shown), and answers what became of them. */
async function save(ctx: SetupContext, res: Response, app: ConvertedApp) {
  const { envFile } = ctx.deps;
  const who = { app_id: app.id, slug: app.slug, owner: app.owner?.login, file: envFile };
  let outcome: 'saved' | 'exists';
  try {
    outcome = await saveGithubAppEnvFile(envFile, app);
  } catch (err) {
    ctx.deps.logger.error({ ...who, err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'could not save the GitHub App registered through /setup');
    return ctx.send(res, 500, 'Setup failed', setupMessagePage('Not saved', `The GitHub App ${app.name} is registered on GitHub, but its credentials could not be saved to ${envFile}, and GitHub gives them only once: delete the App on GitHub (${app.html_url}), make the file's directory writable, and start again.`));
  }
  if (outcome === 'exists') {
    ctx.deps.logger.warn(who, 'a GitHub App was registered through /setup while one was saved already; the new one is not used');
    return ctx.send(res, 409, 'Not saved', setupMessagePage('Not saved', `A GitHub App is saved in ${envFile} already, and is kept. The App ${app.name} just registered on GitHub is not used: delete it on GitHub (${app.html_url}).`, false));
  }
  ctx.deps.logger.info(who, 'GitHub App registered through /setup; restart to use it');
  return ctx.send(res, 200, 'GitHub App registered', setupDonePage({ name: app.name, envFile, installUrl: `${app.html_url.replace(/\/+$/, '')}/installations/new` }));
}

/**
 * `GET /setup/callback?code=…&state=…`: the state checked (constant time, once: the cookie is cleared), the code
 * converted (`POST /app-manifests/{code}/conversions`), the credentials saved.
 */
export function setupCallback(ctx: SetupContext): RequestHandler {
  return async (req, res) => {
    if (ctx.deps.token === undefined && !isLocalRequest(req)) return ctx.notLocal(res);
    const cookie = ctx.stateCookie(req);
    // Once: whatever happens next, this state is spent.
    res.clearCookie(ctx.cookieName, ctx.clearOptions);
    const { code, state } = req.query;
    if (!setupState.matches(state, cookie)) {
      ctx.deps.logger.warn('a /setup callback whose state is not its browser\'s (or is over an hour old): nothing converted');
      return ctx.send(res, 400, 'Setup failed', setupMessagePage('Setup failed', 'The answer from GitHub did not match the setup this browser began (or it is over an hour old). Nothing was saved.'));
    }
    if (typeof code !== 'string' || !CODE.test(code)) {
      return ctx.send(res, 400, 'Setup failed', setupMessagePage('Setup failed', 'The answer from GitHub carried no code. Nothing was saved.'));
    }
    const app = await convert(ctx, res, code);
    if (!app) return;
    return save(ctx, res, app);
  };
}
