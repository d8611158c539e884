import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import cookieParser from 'cookie-parser';
import express, { type CookieOptions, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { findDeployment, findEnvironment, listDeployments, listEnvironments, readActionTarget, readLogTail, type Queryable } from '@ephemera/db';
import type { Logger } from '@ephemera/runtime';
import { ACTIVE_ENVIRONMENT_STATUSES, ENVIRONMENT_STATUSES, type EnvironmentAction } from '@ephemera/schema';
import { DEFAULT_SIGN_IN_ADDRESS_LIMIT, formCredentials, limitFailedLogins, sameToken, type LoginLimit } from '../access.js';
import { ACTION_NAMES, PG_INTEGER_MAX } from '../api-schemas.js';
import { environmentCursors } from '../cursor.js';
import { actionRefusal } from '../environment-actions.js';
import { problem } from '../problem.js';
import { cookieNames } from './cookie-names.js';
import { GITHUB_SIGN_IN_CALLBACK_PATH, GithubSignInError, newPkce, type GithubSignIn } from './github-sign-in.js';
import type { SafeHtml } from './html.js';
import type { OperatorBackOff } from './operator-back-off.js';
import {
  LIVE_IDS,
  deploymentPage,
  deploymentRows,
  deploymentSummary,
  environmentActions,
  environmentPage,
  environmentRows,
  environmentSummary,
  environmentsPage,
  layout,
  messagePage,
  noRepositoryPage,
  signInPage,
  signOutPage,
  unavailablePage,
  type DeploymentView,
  type EnvironmentView,
  type ListFilters,
} from './pages.js';
import { STALE_ACCESS_LIMIT_MS, refreshAccess, type AccessState } from './refresh-access.js';
import { securityHeaders } from './security-headers.js';
import type { Session, SessionStore } from './session-store.js';
import { MAX_STREAMS_PER_SESSION, type StreamLimits } from './stream-limits.js';
import { Viewer } from './viewer.js';

export interface DashboardDeps {
  db: Queryable;
  sessions: SessionStore;
  logger: Logger;
  /** Signs the session cookie (SESSION_SECRET). */
  sessionSecret: string;
  /** SESSION_HOURS. */
  sessionHours: number;
  /** PUBLIC_URL; an https address makes the cookies Secure and `__Host-` prefixed. */
  publicUrl?: string | undefined;
  /** GITHUB_URL, for links to pull requests and commits. */
  githubUrl: string;
  /** "Sign in with GitHub"; off without it. */
  github?: GithubSignIn | undefined;
  /** The operator's sign-in form (ADMIN_USERNAME, ADMIN_PASSWORD, unless ADMIN_SIGN_IN=off); off without it. */
  operator?: { username: string; password: string } | undefined;
  /** Failed operator sign-ins per client address and window (default {@link DEFAULT_SIGN_IN_ADDRESS_LIMIT}). */
  loginLimit?: LoginLimit | undefined;
  /** Failed operator sign-ins per username, shared by the replicas. */
  operatorBackOff: OperatorBackOff;
  /** The live views' limits (per session, and DASHBOARD_MAX_STREAMS in this process). */
  streams: StreamLimits;
  /** How long what GitHub said a person reaches is used before it is asked again (DASHBOARD_ACCESS_SECONDS). */
  accessTtlMs?: number | undefined;
  /** How often live views look for changes. */
  livePollMs?: number | undefined;
  /** Whether the front page offers this visitor "Register the GitHub App" (/setup serves them, no App is configured). */
  setupOffered?: ((req: Request) => boolean) | undefined;
}

const PAGE_SIZE = 50;
/** DASHBOARD_ACCESS_SECONDS' default. */
const DEFAULT_ACCESS_TTL_MS = 60_000;
const DEFAULT_LIVE_POLL_MS = 1_000;
/** A comment line now and then keeps proxies from closing a quiet event stream. */
const KEEP_ALIVE_MS = 15_000;
const STATIC_DIR = fileURLToPath(new URL('../../static/', import.meta.url));

const listQuery = z.object({
  repository: z
    .string()
    .trim()
    .regex(/^([^/\s]+\/[^/\s]+)?$/)
    .optional()
    .transform((v) => v || undefined),
  status: z
    .union([z.enum(ENVIRONMENT_STATUSES), z.literal('')])
    .optional()
    .transform((v) => v || undefined),
  show: z.enum(['active', 'all']).default('active'),
  cursor: z.string().min(1).max(200).optional(),
});
const idParam = z.coerce.number().int().positive().max(PG_INTEGER_MAX);

/** Seconds as a person reads a wait: seconds up to two minutes, then minutes. */
const waitText = (seconds: number) => (seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`);

/**
 * The environments dashboard: sign-in (GitHub, and the operator's form), sessions, the pages and their live
 * updates. `router` serves it at `/`; `actionSession` lets the API's redeploy and destroy accept a signed-in session
 * (with its CSRF token) besides write tokens, asking GitHub afresh whether a GitHub user may act.
 */
export function createDashboard(deps: DashboardDeps) {
  const { db, sessions, logger } = deps;
  const links = { githubUrl: deps.githubUrl.replace(/\/$/, '') };
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const names = cookieNames(secure);
  const sessionMs = deps.sessionHours * 3600_000;
  const livePollMs = deps.livePollMs ?? DEFAULT_LIVE_POLL_MS;
  const refresher = { github: deps.github, sessions, ttlMs: deps.accessTtlMs ?? DEFAULT_ACCESS_TTL_MS, logger };
  const cookieOptions = (maxAge: number): CookieOptions => ({ signed: true, httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge });
  // Cleared with the attributes they were set with: a browser replaces a __Host- cookie only with a Secure one.
  const clearOptions: CookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/' };
  const cookies = cookieParser(deps.sessionSecret);
  const form = express.urlencoded({ extended: false, limit: '8kb' });
  const signedCookie = (req: Request, name: string): string | undefined => {
    const value = (req.signedCookies as Record<string, unknown> | undefined)?.[name];
    return typeof value === 'string' ? value : undefined;
  };
  const staleMinutes = STALE_ACCESS_LIMIT_MS / 60_000;
  const setupOffered = (req: Request) => deps.setupOffered?.(req) ?? false;

  /**
   * The session the request's cookie names, with GitHub's answer about it brought up to date, and what that answer
   * is worth; null when signed out (or GitHub no longer accepts the person's token, which ends the session).
   */
  async function sessionOf(req: Request): Promise<{ session: Session; access: AccessState } | null> {
    const id = signedCookie(req, names.session);
    if (id === undefined) return null;
    const session = await sessions.get(id);
    if (!session) return null;
    const access = await refreshAccess(session, refresher);
    if (access === 'revoked') {
      await sessions.destroy(session.id);
      return null;
    }
    return { session, access };
  }

  /** Revokes a GitHub user token the dashboard no longer keeps; GitHub failing to is logged, never in the way. */
  async function revokeToken(token: string | undefined, login: string): Promise<void> {
    if (!deps.github || token === undefined) return;
    try {
      await deps.github.revoke(token);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message }, login }, 'could not revoke a GitHub token');
    }
  }

  const send = (res: Response, status: number, title: string, body: SafeHtml, options: Parameters<typeof layout>[2] = {}) =>
    res.status(status).type('html').send(layout(title, body, options));
  const sendUnavailable = (res: Response, viewer: Viewer) => {
    res.set('Retry-After', '60');
    return send(res, 503, 'GitHub is unavailable', unavailablePage(staleMinutes), { viewer: viewer.page });
  };

  /**
   * Pages need a session: without one, the browser goes to the sign-in page. A GitHub user whose answer from GitHub
   * is too old to go by gets the "GitHub is unavailable" page, except where `allowUnavailable` (signing out).
   */
  const viewerGuard =
    (allowUnavailable = false) =>
    async (req: Request, res: Response, next: NextFunction) => {
      const found = await sessionOf(req);
      if (!found) return res.redirect(303, '/sign-in');
      const viewer = new Viewer(found.session);
      if (found.access === 'unavailable' && !allowUnavailable) return sendUnavailable(res, viewer);
      res.locals.viewer = viewer;
      return next();
    };
  const requireViewer = viewerGuard();
  const viewerOf = (res: Response) => res.locals.viewer as Viewer;

  async function startSession(res: Response, data: Omit<Session, 'id' | 'csrf' | 'expiresAt'>) {
    // A new id at every sign-in, so an id planted before it is worth nothing after.
    const session = await sessions.create({ ...data, expiresAt: Date.now() + sessionMs });
    res.cookie(names.session, session.id, cookieOptions(sessionMs));
    res.clearCookie(names.loginCsrf, clearOptions);
    res.redirect(303, '/');
  }

  const router = express.Router();
  router.use('/static', express.static(STATIC_DIR, { index: false, maxAge: '1h' }));
  // Mounted after every other route of the service, so these reach only the dashboard's requests.
  router.use(securityHeaders(), cookies);

  // Sign-in. The form carries a token matching a cookie of its own (double submit), so another site cannot sign a
  // browser in to an account of its choosing.
  const signIn = (req: Request, res: Response, status = 200, error?: string) => {
    let csrf = signedCookie(req, names.loginCsrf);
    if (csrf === undefined) {
      csrf = randomBytes(24).toString('base64url');
      res.cookie(names.loginCsrf, csrf, cookieOptions(3600_000));
    }
    return send(res, status, 'Sign in', signInPage({ csrf, operator: deps.operator !== undefined, github: deps.github !== undefined, error, setup: setupOffered(req) }));
  };
  router.get('/sign-in', (req, res) => signIn(req, res));

  if (deps.operator) {
    const check = formCredentials(deps.operator.username, deps.operator.password);
    const backOff = deps.operatorBackOff;
    // Loosely per address (the back-off per username below is what makes guessing slow).
    const addressLimit = limitFailedLogins(
      check,
      deps.loginLimit ?? DEFAULT_SIGN_IN_ADDRESS_LIMIT,
      (req) => (req.body as { username?: unknown } | undefined)?.username !== undefined,
      (req, res, seconds) => signIn(req, res, 429, `Too many failed sign-ins from this address: try again in ${waitText(seconds)}.`),
    );
    const operatorLogin = deps.operator.username;
    router.post(
      '/auth/sign-in',
      form,
      (req, res, next) => {
        if (!sameToken((req.body as { _csrf?: unknown })._csrf, signedCookie(req, names.loginCsrf))) {
          return signIn(req, res, 403, 'The sign-in form had expired: please sign in again.');
        }
        return next();
      },
      addressLimit,
      async (req, res) => {
        const { username } = req.body as { username?: unknown };
        const name = typeof username === 'string' ? username : '';
        const waitMs = await backOff.claim(name);
        if (waitMs > 0) {
          const seconds = Math.ceil(waitMs / 1000);
          res.set('Retry-After', String(seconds));
          return signIn(req, res, 429, `Too many failed sign-ins as ${name}: try again in ${waitText(seconds)}.`);
        }
        if (!check(req)) return signIn(req, res, 401, 'Wrong username or password.');
        await backOff.succeeded(name);
        logger.info({ login: operatorLogin }, 'operator signed in to the dashboard');
        return startSession(res, { kind: 'operator', login: operatorLogin });
      },
    );
  }

  if (deps.github) {
    const github = deps.github;
    router.get('/auth/github', (_req, res) => {
      // The state ties GitHub's answer to this browser; the PKCE verifier, which only this browser's cookie holds,
      // makes a code that leaks (or is carried into another browser's sign-in) worthless.
      const state = randomBytes(24).toString('base64url');
      const pkce = newPkce();
      res.cookie(names.oauthState, `${state}.${pkce.verifier}`, cookieOptions(10 * 60_000));
      res.redirect(302, github.authorizeUrl(state, pkce.challenge));
    });
    router.get(GITHUB_SIGN_IN_CALLBACK_PATH, async (req, res) => {
      const { code, state } = req.query;
      const [expected, verifier] = (signedCookie(req, names.oauthState) ?? '').split('.');
      res.clearCookie(names.oauthState, clearOptions);
      if (typeof code !== 'string' || !verifier || !sameToken(state, expected)) {
        return send(res, 400, 'Sign-in failed', messagePage('Sign-in failed', 'The answer from GitHub did not match this browser\'s sign-in: please sign in again.'));
      }
      let token: string | undefined;
      try {
        token = await github.exchange(code, verifier);
        const login = await github.login(token);
        const access = await github.access(token);
        if (access.repositories.length === 0) {
          // Nothing to show them: no session, and no token kept.
          logger.info({ login }, 'GitHub sign-in of someone who reaches no repository the App serves');
          await revokeToken(token, login);
          return send(res, 403, 'No repository', noRepositoryPage(login));
        }
        logger.info({ login, repositories: access.repositories.length }, 'signed in to the dashboard with GitHub');
        return await startSession(res, { kind: 'github', login, githubToken: token, access });
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'GitHub sign-in failed');
        await revokeToken(token, '(unknown)');
        return send(res, 502, 'Sign-in failed', messagePage('Sign-in failed', 'GitHub did not complete the sign-in: please try again.'));
      }
    });
  }

  // Signing out works while GitHub is unavailable too.
  const signOutGuard = viewerGuard(true);
  router.get('/auth/sign-out', signOutGuard, (_req, res) => send(res, 200, 'Sign out', signOutPage(viewerOf(res).session.csrf), { viewer: viewerOf(res).page }));
  router.post('/auth/sign-out', form, signOutGuard, async (req, res) => {
    const { session } = viewerOf(res);
    if (!sameToken((req.body as { _csrf?: unknown })._csrf, session.csrf)) return send(res, 403, 'Forbidden', messagePage('Forbidden', 'The form had expired: reload the page.'));
    await sessions.destroy(session.id);
    res.clearCookie(names.session, clearOptions);
    // The session is gone whatever GitHub says; then its token is revoked, so nothing it held still works.
    await revokeToken(session.githubToken, session.login);
    return res.redirect(303, '/sign-in');
  });

  // Environments.
  async function listPage(viewer: Viewer, filters: ListFilters, cursor: string | undefined) {
    const after = cursor ? environmentCursors.decode(cursor) : undefined;
    if (after === null) return null;
    const statuses = filters.status ? [filters.status] : filters.show === 'active' ? [...ACTIVE_ENVIRONMENT_STATUSES].filter((s) => s !== 'DESTROYED') : undefined;
    const page = await listEnvironments(db, {
      ...(filters.repository ? { repositoryFullName: filters.repository } : {}),
      ...(statuses ? { statuses } : {}),
      ...(viewer.repositories ? { repositories: viewer.repositories } : {}),
      ...(after ? { after } : {}),
      limit: PAGE_SIZE,
    });
    return { environments: JSON.parse(page.body) as EnvironmentView[], next: page.next ? environmentCursors.encode(page.next.createdAt, page.next.id) : null };
  }
  const filtersOf = (q: z.infer<typeof listQuery>): ListFilters => ({ repository: q.repository, status: q.status, show: q.show });
  const queryString = (filters: ListFilters, cursor?: string) => {
    const p = new URLSearchParams();
    if (filters.repository) p.set('repository', filters.repository);
    if (filters.status) p.set('status', filters.status);
    if (filters.show !== 'active') p.set('show', filters.show);
    if (cursor) p.set('cursor', cursor);
    const s = p.toString();
    return s ? `?${s}` : '';
  };

  router.get('/', requireViewer, async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return send(res, 400, 'Bad request', messagePage('Bad request', 'The filters could not be read.'), { viewer: viewerOf(res).page });
    const filters = filtersOf(q.data);
    const page = await listPage(viewerOf(res), filters, q.data.cursor);
    if (!page) return send(res, 400, 'Bad request', messagePage('Bad request', 'That page link is not one this dashboard made.'), { viewer: viewerOf(res).page });
    const body = environmentsPage({ environments: page.environments, filters, nextHref: page.next ? `/${queryString(filters, page.next)}` : null, links, now: Date.now(), setup: setupOffered(req) });
    return send(res, 200, 'Environments', body, { viewer: viewerOf(res).page, live: `/events${queryString(filters, q.data.cursor)}` });
  });

  router.get('/events', requireViewer, async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return problem(res, 400, 'Bad Request', 'the filters could not be read');
    const filters = filtersOf(q.data);
    return liveEvents(req, res, async (viewer) => {
      const page = await listPage(viewer, filters, q.data.cursor);
      return page ? { [LIVE_IDS.rows]: environmentRows(page.environments, links, Date.now()).text } : null;
    });
  });

  /** The environment with this id if it exists and the viewer may see it, or null. */
  async function environmentFor(viewer: Viewer, id: number): Promise<EnvironmentView | null> {
    const row = await findEnvironment(db, { id });
    const environment = row ? (JSON.parse(row.json) as EnvironmentView) : null;
    return environment && viewer.canSee(environment) ? environment : null;
  }

  /** The environment if it exists and the viewer may see it; otherwise answers 404 (the same for both). */
  async function visibleEnvironment(req: Request, res: Response, viewer: Viewer): Promise<EnvironmentView | null> {
    const id = idParam.safeParse(req.params.id);
    const environment = id.success ? await environmentFor(viewer, id.data) : null;
    if (environment) return environment;
    send(res, 404, 'Not found', messagePage('Not found', 'There is no such environment, or you cannot see it.'), { viewer: viewer.page });
    return null;
  }
  const deploymentsOf = async (id: number) => (await listDeployments(db, id, { limit: PAGE_SIZE, includeLogs: false })).map((r) => JSON.parse(r.json) as DeploymentView);
  const notices: Record<string, string> = { redeploy: 'Redeploy queued: a new deployment starts shortly.', destroy: 'Destroy queued: the preview is being torn down.' };
  const isAction = (name: unknown): name is EnvironmentAction => typeof name === 'string' && (ACTION_NAMES as readonly string[]).includes(name);

  /** The actions the viewer may take on the environment that apply to it now, decided as the API decides. */
  async function actionsFor(viewer: Viewer, e: EnvironmentView): Promise<{ allowed: EnvironmentAction[]; refusals: Partial<Record<EnvironmentAction, string>> }> {
    if (!viewer.canAct(e)) return { allowed: [], refusals: {} };
    const target = await readActionTarget(db, e.id);
    const refusals: Partial<Record<EnvironmentAction, string>> = {};
    const allowed: EnvironmentAction[] = [];
    for (const action of ACTION_NAMES) {
      const refusal = target ? actionRefusal(action, e.id, target) : `no environment ${e.id}`;
      if (refusal) refusals[action] = refusal;
      else allowed.push(action);
    }
    return { allowed, refusals };
  }

  router.get('/environments/:id', requireViewer, async (req, res) => {
    const viewer = viewerOf(res);
    const environment = await visibleEnvironment(req, res, viewer);
    if (!environment) return;
    const queued = isAction(req.query.queued) ? notices[req.query.queued] : undefined;
    const actions = await actionsFor(viewer, environment);
    // Sent back by the API when the action no longer applied; said only while that is still so.
    const refused = isAction(req.query.refused) ? actions.refusals[req.query.refused] : undefined;
    const body = environmentPage({
      environment,
      deployments: await deploymentsOf(environment.id),
      actions: actions.allowed,
      csrf: viewer.session.csrf,
      notice: queued,
      alert: refused ? `Not done: ${refused}.` : undefined,
      links,
      now: Date.now(),
    });
    return send(res, 200, `${environment.repository_full_name} #${environment.pr_number}`, body, { viewer: viewer.page, live: `/environments/${environment.id}/events` });
  });

  router.get('/environments/:id/events', requireViewer, async (req, res) => {
    const environment = await visibleEnvironment(req, res, viewerOf(res));
    if (!environment) return;
    return liveEvents(req, res, async (viewer) => {
      const e = await environmentFor(viewer, environment.id);
      if (!e) return 'gone';
      const now = Date.now();
      return {
        [LIVE_IDS.summary]: environmentSummary(e, links, now).text,
        [LIVE_IDS.actions]: environmentActions(e, (await actionsFor(viewer, e)).allowed, viewer.session.csrf).text,
        [LIVE_IDS.deployments]: deploymentRows(e.id, e.repository_full_name, await deploymentsOf(e.id), links, now).text,
      };
    });
  });

  async function visibleDeployment(req: Request, res: Response, viewer: Viewer) {
    const environment = await visibleEnvironment(req, res, viewer);
    if (!environment) return null;
    const id = idParam.safeParse(req.params.deploymentId);
    const row = id.success ? await findDeployment(db, environment.id, id.data) : null;
    if (row) return { environment, deployment: JSON.parse(row.json) as DeploymentView };
    send(res, 404, 'Not found', messagePage('Not found', 'This environment has no such deployment.'), { viewer: viewer.page });
    return null;
  }

  router.get('/environments/:id/deployments/:deploymentId', requireViewer, async (req, res) => {
    const found = await visibleDeployment(req, res, viewerOf(res));
    if (!found) return;
    const body = deploymentPage({ ...found, links, now: Date.now() });
    // The live view follows the logs from where the page left them.
    const from = (await readLogTail(db, found.deployment.id, 0))?.length ?? 0;
    return send(res, 200, `Deployment #${found.deployment.id}`, body, {
      viewer: viewerOf(res).page,
      live: `/environments/${found.environment.id}/deployments/${found.deployment.id}/events?from=${from}`,
    });
  });

  router.get('/environments/:id/deployments/:deploymentId/events', requireViewer, async (req, res) => {
    const found = await visibleDeployment(req, res, viewerOf(res));
    if (!found) return;
    const parsed = z.coerce.number().int().min(0).safeParse(req.query.from ?? 0);
    let from = parsed.success ? parsed.data : 0;
    const { environment, deployment } = found;
    return liveEvents(req, res, async (viewer, write) => {
      // Access is checked on every poll, with the session's answer from GitHub refreshed on the environment
      // stream's schedule, before any log line is read.
      if (!(await environmentFor(viewer, environment.id))) return 'gone';
      const tail = await readLogTail(db, deployment.id, from);
      if (!tail) return 'gone';
      if (tail.text.length > 0 || tail.restarted) write('log', { text: tail.text, restarted: tail.restarted });
      from = tail.length;
      const row = await findDeployment(db, environment.id, deployment.id);
      return row ? { [LIVE_IDS.deployment]: deploymentSummary(JSON.parse(row.json) as DeploymentView, environment.repository_full_name, links, Date.now()).text } : 'gone';
    });
  });

  /**
   * Server-Sent Events: every poll interval `render` gives the markup of each live element as the viewer may see it
   * now, and it is sent when it differs from what was sent last. The session, and with it what GitHub says the person
   * reaches, is read again on every poll: a sign-out (or its expiry) ends the stream with `signed-out`, access to what
   * it shows withdrawn (`render` says `gone`) with `gone`, GitHub's answer grown too old with `unavailable`. A stream
   * takes one of the session's places and one of the service's (429 past either), freed when it ends.
   */
  async function liveEvents(
    req: Request,
    res: Response,
    render: (viewer: Viewer, write: (event: string, data: unknown) => void) => Promise<Record<string, string> | null | 'gone'>,
  ) {
    const lease = await deps.streams.acquire(viewerOf(res).session.id);
    if (typeof lease === 'string') {
      res.set('Retry-After', '10');
      return problem(
        res,
        429,
        'Too Many Requests',
        lease === 'session'
          ? `at most ${MAX_STREAMS_PER_SESSION} live views per session: close another page of the dashboard`
          : 'too many live views on this server: try again shortly',
      );
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const write = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let last = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    res.on('close', () => {
      closed = true;
      clearTimeout(timer);
      lease.release().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not free a live view\'s place'));
    });
    const end = (event: string) => {
      write(event, {});
      closed = true;
      res.end();
    };
    const tick = async () => {
      try {
        const found = await sessionOf(req);
        if (!found) return end('signed-out');
        if (found.access === 'unavailable') return end('unavailable');
        await lease.renew();
        const parts = await render(new Viewer(found.session), (event, data) => {
          write(event, data);
          lastWrite = Date.now();
        });
        if (parts === 'gone') return end('gone');
        const text = JSON.stringify(parts ?? {});
        if (parts && text !== last) {
          res.write(`data: ${text}\n\n`);
          last = text;
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite > KEEP_ALIVE_MS) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'live update failed');
      } finally {
        if (!closed) timer = setTimeout(() => void tick(), livePollMs);
      }
    };
    // The first poll sends the current state, so a change made while the page loaded is not missed.
    void tick();
  }

  /**
   * Asks GitHub, now, whether the session's GitHub user may act on the environment's repository, and keeps the
   * answer in the session (so its pages offer what GitHub allows). Answers the request itself and returns false
   * when GitHub says no (403), cannot say (503: nothing is queued), or no longer accepts the token (401).
   */
  async function githubAllows(res: Response, session: Session, viewer: Viewer, environment: EnvironmentView): Promise<boolean> {
    const reachable = viewer.repositoryOf(environment);
    const repository = reachable?.fullName ?? environment.repository_full_name;
    const unanswered = () => {
      res.set('Retry-After', '10');
      problem(res, 503, 'Service Unavailable', `GitHub did not say whether ${session.login} may act on ${repository}; nothing was queued: try again shortly`);
      return false;
    };
    if (!deps.github || session.githubToken === undefined) return unanswered();
    let allowed: boolean;
    try {
      allowed = await deps.github.mayAct(session.githubToken, repository, session.login);
    } catch (err) {
      if (err instanceof GithubSignInError && err.status === 401) {
        await sessions.destroy(session.id);
        problem(res, 401, 'Unauthorized', 'the session has ended: GitHub no longer accepts its token; sign in again');
        return false;
      }
      logger.warn({ err: { message: (err as Error).message }, login: session.login, repository }, 'could not ask GitHub whether a person may act');
      return unanswered();
    }
    if (reachable && reachable.canAct !== allowed) {
      reachable.canAct = allowed;
      await sessions.save(session);
    }
    if (!allowed) problem(res, 403, 'Forbidden', `GitHub says ${session.login} may not act on ${repository}: that needs the admin, maintain or write permission`);
    return allowed;
  }

  /**
   * The API's actions for a signed-in session: the CSRF token (form field `_csrf` or header `X-CSRF-Token`) must be
   * the session's, and the person must be allowed to act on the environment's repository, which for a GitHub user
   * GitHub is asked afresh. The requester is left in `res.locals.requester`, and `res.locals.fromForm` says the
   * answer should send the browser back to the page.
   */
  const checkSession = async (req: Request, res: Response, next: NextFunction) => {
    const found = await sessionOf(req);
    if (!found) return problem(res, 401, 'Unauthorized', 'the session has ended: sign in again');
    const { session } = found;
    const given = (req.body as { _csrf?: unknown } | undefined)?._csrf ?? req.get('x-csrf-token');
    if (!sameToken(given, session.csrf)) return problem(res, 403, 'Forbidden', 'the request does not carry this session\'s CSRF token');
    if (found.access === 'unavailable') {
      res.set('Retry-After', '60');
      return problem(res, 503, 'Service Unavailable', `GitHub has not said for over ${staleMinutes} minutes which repositories ${session.login} reaches; nothing was queued: try again shortly`);
    }
    const viewer = new Viewer(session);
    const id = idParam.safeParse(req.params.id);
    const environment = id.success ? await environmentFor(viewer, id.data) : null;
    if (!environment) return problem(res, 404, 'Not Found', `no environment ${id.success ? id.data : req.params.id}`);
    if (session.kind === 'github') {
      if (!(await githubAllows(res, session, viewer, environment))) return;
    } else if (!viewer.canAct(environment)) {
      return problem(res, 403, 'Forbidden', `${session.login} may not act on ${environment.repository_full_name}`);
    }
    res.locals.requester = viewer.requester;
    res.locals.fromForm = Boolean(req.is('application/x-www-form-urlencoded'));
    return next();
  };
  const actionSession = [cookies, form, checkSession] as const;
  const sessionCookie = new RegExp(`(?:^|;\\s*)${names.session}=`);

  return {
    router,
    actionSession,
    /** Whether a request to the API stands for a session rather than a token: a session cookie and no Authorization. */
    carriesSession: (req: Request) => req.get('authorization') === undefined && sessionCookie.test(req.headers.cookie ?? ''),
  };
}
