import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import type { GithubAppCredentials } from '../config.js';

/** fetch with a deadline on every request (and its own signal still honoured): Octokit sets none. */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
  };
}

/**
 * One Octokit per installation, authenticated as that installation: @octokit/auth-app makes the App's JWT,
 * fetches the installation token and caches it until shortly before it expires.
 */
export class InstallationClients {
  private readonly clients = new Map<number, Octokit>();
  private appClient: Octokit | undefined;

  constructor(
    private readonly credentials: GithubAppCredentials,
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  for(installationId: number): Octokit {
    let octokit = this.clients.get(installationId);
    if (!octokit) {
      octokit = this.make(installationId);
      this.clients.set(installationId, octokit);
    }
    return octokit;
  }

  /** The App itself (its JWT), for `/app/...` endpoints such as an installation's state. */
  app(): Octokit {
    this.appClient ??= this.make(undefined);
    return this.appClient;
  }

  private make(installationId: number | undefined): Octokit {
    return new Octokit({
      baseUrl: this.baseUrl,
      authStrategy: createAppAuth,
      auth: { appId: this.credentials.appId, privateKey: this.credentials.privateKey, ...(installationId !== undefined ? { installationId } : {}) },
      userAgent: 'ephemera',
      // Retries belong to the queues (with backoff); a request fails fast here.
      request: { retries: 0, fetch: fetchWithTimeout(this.timeoutMs) },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
  }
}
