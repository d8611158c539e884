import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TokenCipher } from './token-cipher.js';

/** A repository a GitHub user reaches through the App's installations, and whether they may act on it. */
export interface ReachableRepository {
  id: number;
  fullName: string;
  /** Their permission is admin, maintain or write, as GitHub last said. */
  canAct: boolean;
}

/** What GitHub said a person reaches, and when it said so. */
export interface GithubAccess {
  /** When GitHub gave this answer. */
  fetchedAt: number;
  repositories: ReachableRepository[];
  /** After GitHub failed to answer: not to be asked again before this time. */
  retryAt?: number | undefined;
}

export interface Session {
  id: string;
  kind: 'operator' | 'github';
  login: string;
  /** The synchronizer token every state-changing request of this session must carry. */
  csrf: string;
  expiresAt: number;
  /** The user access token (GitHub sign-in only); kept server-side and sealed at rest, never in the cookie. */
  githubToken?: string;
  access?: GithubAccess;
}

/** A session as Redis holds it: the GitHub token sealed (see {@link TokenCipher}), never in clear. */
type StoredSession = Omit<Session, 'githubToken'> & { sealedToken?: string };

const newId = () => randomBytes(32).toString('base64url');

/**
 * Dashboard sessions in Redis, so a GitHub user's token and what GitHub said about them stay on the server and every
 * replica of the query service sees the same sessions; the browser holds only the session id, in a signed cookie.
 * Keys are the id's SHA-256, so reading Redis does not hand out working cookies, and the GitHub token is sealed with
 * AES-256-GCM under a key derived from `secret` (SESSION_SECRET), bound to its session's key. Each key expires with
 * its session. A session whose token does not open (another SESSION_SECRET, or a changed value) is no session.
 */
export class SessionStore {
  private readonly cipher: TokenCipher;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    secret: string,
  ) {
    this.cipher = new TokenCipher(secret);
  }

  private key(id: string): string {
    return `${this.prefix}:dashboard-session:${createHash('sha256').update(id).digest('hex')}`;
  }

  async create(data: Omit<Session, 'id' | 'csrf'>): Promise<Session> {
    const session: Session = { ...data, id: newId(), csrf: newId() };
    await this.save(session);
    return session;
  }

  async get(id: string): Promise<Session | null> {
    const key = this.key(id);
    const text = await this.redis.get(key);
    if (!text) return null;
    const { sealedToken, ...stored } = JSON.parse(text) as StoredSession & { githubToken?: string };
    if (stored.id !== id || stored.expiresAt <= Date.now()) return null;
    if (stored.githubToken !== undefined) {
      // Written before tokens were sealed: sealed now, so the token in clear is gone from Redis at its first read.
      await this.save(stored);
      return stored;
    }
    if (sealedToken === undefined) return stored;
    const githubToken = this.cipher.open(sealedToken, key);
    return githubToken === null ? null : { ...stored, githubToken };
  }

  /** Writes the session again (its expiry unchanged). */
  async save(session: Session): Promise<void> {
    const ttl = session.expiresAt - Date.now();
    if (ttl <= 0) return;
    const key = this.key(session.id);
    const { githubToken, ...rest } = session;
    const stored: StoredSession = githubToken === undefined ? rest : { ...rest, sealedToken: this.cipher.seal(githubToken, key) };
    await this.redis.set(key, JSON.stringify(stored), 'PX', ttl);
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
