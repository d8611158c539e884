import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A repository a GitHub user reaches through the App's installations, and whether they may act on it. */
export interface ReachableRepository {
  id: number;
  fullName: string;
  /** Their permission is admin, maintain or write. */
  canAct: boolean;
}

/** What GitHub said a person reaches, and when it said so. */
export interface GithubAccess {
  fetchedAt: number;
  repositories: ReachableRepository[];
}

export interface Session {
  id: string;
  kind: 'operator' | 'github';
  login: string;
  /** The synchronizer token every state-changing request of this session must carry. */
  csrf: string;
  expiresAt: number;
  /** The user access token (GitHub sign-in only); kept server-side, never in the cookie. */
  githubToken?: string;
  access?: GithubAccess;
}

/** The cookie that names a dashboard session. */
export const SESSION_COOKIE = 'ephemera_session';

const newId = () => randomBytes(32).toString('base64url');

/**
 * Dashboard sessions in Redis, so a GitHub user's token and what GitHub said about them stay on the server and every
 * replica of the query service sees the same sessions; the browser holds only the session id, in a signed cookie.
 * Keys are the id's SHA-256, so reading Redis does not hand out working cookies. Each key expires with its session.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:dashboard-session:${createHash('sha256').update(id).digest('hex')}`;
  }

  async create(data: Omit<Session, 'id' | 'csrf'>): Promise<Session> {
    const session: Session = { ...data, id: newId(), csrf: newId() };
    await this.save(session);
    return session;
  }

  async get(id: string): Promise<Session | null> {
    const text = await this.redis.get(this.key(id));
    if (!text) return null;
    const session = JSON.parse(text) as Session;
    return session.expiresAt > Date.now() ? session : null;
  }

  /** Writes the session again (its expiry unchanged). */
  async save(session: Session): Promise<void> {
    const ttl = session.expiresAt - Date.now();
    if (ttl <= 0) return;
    await this.redis.set(this.key(session.id), JSON.stringify(session), 'PX', ttl);
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
