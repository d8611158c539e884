import { Octokit } from '@octokit/rest';
import { z } from 'zod';

/** A value written as one line of the env file: no line break can start another setting. */
const oneLine = z.string().min(1).regex(/^[^\r\n]+$/, 'must be one line');

/**
 * What GitHub answers `POST /app-manifests/{code}/conversions` with, in the fields Ephemera keeps (the credentials go
 * to the env file only) and shows (the App's name and its page).
 */
export const convertedAppSchema = z.object({
  id: z.number().int().positive(),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  name: z.string(),
  html_url: z.url({ protocol: /^https?$/ }),
  owner: z.object({ login: z.string() }).nullish(),
  client_id: oneLine,
  client_secret: oneLine,
  webhook_secret: oneLine,
  pem: z.string().includes('-----BEGIN'),
});

export type ConvertedApp = z.infer<typeof convertedAppSchema>;

/** Trades the code GitHub handed back for the registered App and its credentials. */
export interface ManifestConversion {
  convert(code: string): Promise<ConvertedApp>;
}

/** GitHub did not know the code: it was never given, was traded already (codes are good once), or is over an hour old. */
export class ManifestCodeRefusedError extends Error {
  override readonly name = 'ManifestCodeRefusedError';
}

/**
 * The conversion through GitHub's REST API (GITHUB_API_URL) with @octokit/rest, which needs no authentication: the
 * code is the credential. Every call is abandoned after `timeoutMs` (GITHUB_REQUEST_TIMEOUT_MS) and never retried, since
 * a code is good once.
 */
export class OctokitManifestConversion implements ManifestConversion {
  private readonly octokit: Octokit;
  private readonly timeoutMs: number;

  constructor(settings: { apiUrl: string; timeoutMs: number }) {
    this.timeoutMs = settings.timeoutMs;
    this.octokit = new Octokit({
      baseUrl: settings.apiUrl.replace(/\/+$/, ''),
      userAgent: 'ephemera',
      request: { retries: 0 },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
  }

  async convert(code: string): Promise<ConvertedApp> {
    let data: unknown;
    try {
      ({ data } = await this.octokit.rest.apps.createFromManifest({ code, request: { signal: AbortSignal.timeout(this.timeoutMs) } }));
    } catch (err) {
      const status = (err as { status?: number }).status;
      // 404 is GitHub's answer to a code it does not know (or no longer); 422 to one it cannot read.
      if (status === 404 || status === 422) throw new ManifestCodeRefusedError(`GitHub answered ${status}: the code is not one it gave out, or it was used or expired`, { cause: err });
      throw new Error(`GitHub did not convert the code: ${status ? `it answered ${status}` : (err as Error).message}`, { cause: err });
    }
    const parsed = convertedAppSchema.safeParse(data);
    // The problem names fields only: a value in the error could be a secret.
    if (!parsed.success) throw new Error(`GitHub's answer lacks what the App needs: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    return parsed.data;
  }
}
