import type { ActionRequester } from '@ephemera/schema';
import type { EnvironmentView, PageViewer } from './pages.js';
import type { ReachableRepository, Session } from './session-store.js';

type RepositoryOf = Pick<EnvironmentView, 'repository_id' | 'repository_full_name'>;

/** What a signed-in person may see and do, by the session's record of what GitHub said. */
export class Viewer {
  private readonly byId: Map<number, ReachableRepository>;
  private readonly byName: Map<string, ReachableRepository>;
  constructor(readonly session: Session) {
    const repos = session.access?.repositories ?? [];
    this.byId = new Map(repos.map((r) => [r.id, r]));
    this.byName = new Map(repos.map((r) => [r.fullName.toLowerCase(), r]));
  }
  get everything(): boolean {
    return this.session.kind === 'operator';
  }
  get requester(): ActionRequester {
    return { kind: this.session.kind, login: this.session.login };
  }
  get page(): PageViewer {
    return { login: this.session.login, kind: this.session.kind, csrf: this.session.csrf };
  }
  /** The repositories filter of a list, or undefined for an operator who sees everything. */
  get repositories(): { ids: number[]; fullNames: string[] } | undefined {
    return this.everything ? undefined : { ids: [...this.byId.keys()], fullNames: [...this.byName.keys()] };
  }
  /**
   * The environment's repository as GitHub last listed it for this person, or undefined. Rows without GitHub's
   * repository id are matched by full name, as the worker matches pull requests.
   */
  repositoryOf(e: RepositoryOf): ReachableRepository | undefined {
    return e.repository_id !== null ? this.byId.get(e.repository_id) : this.byName.get(e.repository_full_name.toLowerCase());
  }
  canSee(e: RepositoryOf): boolean {
    return this.everything || this.repositoryOf(e) !== undefined;
  }
  canAct(e: RepositoryOf): boolean {
    return this.everything || this.repositoryOf(e)?.canAct === true;
  }
}
