import type { Request } from 'express';
import { findEnvironment, repositoryIdentity } from '@ephemera/db';
import type { ActionRequester } from '@ephemera/schema';
import { signedCookie, type DashboardContext } from './dashboard-context.js';
import type { PageViewer } from './layout.js';
import type { EnvironmentView } from './pages.js';
import { refreshAccess, type AccessState } from './refresh-access.js';
import type { ReachableRepository, Session } from './session-store.js';

type RepositoryOf = Pick<EnvironmentView, 'repository_id' | 'repository_full_name'>;

/**
 * Who is looking and what they may see and do, by the session's record of what GitHub said and what that record is
 * worth now (`access`). The pages, the live views and the API's session guard all read one with {@link readViewer}
 * and ask it; none decides visibility on its own.
 */
export class Viewer {
  /**
   * The repositories GitHub listed, under the one "same repository" rule's identity: each by its id and by its
   * folded full name (the two cannot collide), so a row is found by whichever it carries.
   */
  private readonly reachable: Map<string, ReachableRepository>;
  constructor(
    readonly session: Session,
    readonly access: Exclude<AccessState, 'revoked'>,
  ) {
    const repos = session.access?.repositories ?? [];
    this.reachable = new Map(
      repos.flatMap((r) => [
        [repositoryIdentity({ repositoryId: r.id, repositoryFullName: r.fullName }), r],
        [repositoryIdentity({ repositoryId: null, repositoryFullName: r.fullName }), r],
      ]),
    );
  }
  get everything(): boolean {
    return this.session.kind === 'operator';
  }
  /** GitHub's answer about a GitHub user is too old to show anything by (see `STALE_ACCESS_LIMIT_MS`). */
  get unavailable(): boolean {
    return this.access === 'unavailable';
  }
  get requester(): ActionRequester {
    return { kind: this.session.kind, login: this.session.login };
  }
  get page(): PageViewer {
    return { login: this.session.login, kind: this.session.kind, csrf: this.session.csrf };
  }
  /** The repositories filter of a list, or undefined for an operator who sees everything. */
  get repositories(): { ids: number[]; fullNames: string[] } | undefined {
    const repos = this.session.access?.repositories ?? [];
    return this.everything ? undefined : { ids: repos.map((r) => r.id), fullNames: repos.map((r) => r.fullName) };
  }
  /**
   * The environment's repository as GitHub last listed it for this person, or undefined. Rows without GitHub's
   * repository id are matched by full name, as the worker matches pull requests.
   */
  repositoryOf(e: RepositoryOf): ReachableRepository | undefined {
    return this.reachable.get(repositoryIdentity({ repositoryId: e.repository_id, repositoryFullName: e.repository_full_name }));
  }
  canSee(e: RepositoryOf): boolean {
    return this.everything || this.repositoryOf(e) !== undefined;
  }
  canAct(e: RepositoryOf): boolean {
    return this.everything || this.repositoryOf(e)?.canAct === true;
  }
}

/**
 * The viewer of the session the request's cookie names, with GitHub's answer about it brought up to date; null when
 * signed out (or GitHub no longer accepts the person's token, which ends the session).
 */
export async function readViewer(ctx: DashboardContext, req: Request): Promise<Viewer | null> {
  const id = signedCookie(req, ctx.names.session);
  if (id === undefined) return null;
  const session = await ctx.sessions.get(id);
  if (!session) return null;
  const access = await refreshAccess(session, ctx.refresher);
  if (access === 'revoked') {
    await ctx.sessions.destroy(session.id);
    return null;
  }
  return new Viewer(session, access);
}

/** The environment with this id if it exists and the viewer may see it, or null (the same for both). */
export async function environmentFor(ctx: DashboardContext, viewer: Viewer, id: number): Promise<EnvironmentView | null> {
  const row = await findEnvironment(ctx.db, { id });
  const environment = row ? (JSON.parse(row.json) as EnvironmentView) : null;
  return environment && viewer.canSee(environment) ? environment : null;
}
