import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  authorization: string | undefined;
}

export interface FakeGithub {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next `count` requests whose path matches with `status` (to exercise retries and drops). */
  failNext(pattern: RegExp, status: number, count?: number): void;
  /** A file of `owner/name` at commit `ref`, served by the contents API; `null` removes it. */
  setFile(repository: string, ref: string, path: string, text: string | null): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for GitHub's REST API, speaking its shapes for what Ephemera calls: App installation
 * tokens, issue comments, commit statuses, deployments and deployment statuses, and repository files through
 * the contents API. It records every request.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const requests: RecordedRequest[] = [];
  const failures: Array<{ pattern: RegExp; status: number; count: number }> = [];
  let nextId = 1000;
  const comments = new Map<number, string>();
  const files = new Map<string, string>();
  const fileKey = (repository: string, ref: string, path: string) => `${repository.toLowerCase()}@${ref}:${path}`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const [path, search] = (req.url ?? '/').split('?') as [string, string | undefined];
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
      requests.push({ method: req.method ?? 'GET', path, body, authorization: req.headers.authorization });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': `fake-${requests.length}` });
        res.end(JSON.stringify(payload));
      };
      const failure = failures.find((f) => f.count > 0 && f.pattern.test(path));
      if (failure) {
        failure.count--;
        return send(failure.status, { message: `fake failure ${failure.status}`, documentation_url: 'https://docs.github.com/rest' });
      }
      let m: RegExpMatchArray | null;
      if (req.method === 'POST' && (m = path.match(/^\/app\/installations\/(\d+)\/access_tokens$/))) {
        return send(201, {
          token: `ghs_fake${m[1]}`,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { pull_requests: 'write', statuses: 'write', deployments: 'write' },
          repository_selection: 'all',
        });
      }
      if (req.method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/))) {
        // GitHub's shape for a file: base64 content wrapped at 60 characters, its blob sha, links.
        const ref = new URLSearchParams(search ?? '').get('ref') ?? 'HEAD';
        const filePath = decodeURIComponent(m[3]!);
        const text = files.get(fileKey(`${m[1]}/${m[2]}`, ref, filePath));
        if (text === undefined) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content', status: '404' });
        const content = Buffer.from(text, 'utf8').toString('base64').replace(/(.{60})/g, '$1\n');
        const blob = createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex');
        const url = `https://api.github.com/repos/${m[1]}/${m[2]}/contents/${filePath}?ref=${ref}`;
        return send(200, {
          type: 'file',
          encoding: 'base64',
          size: Buffer.byteLength(text),
          name: filePath.split('/').at(-1),
          path: filePath,
          content,
          sha: blob,
          url,
          git_url: `https://api.github.com/repos/${m[1]}/${m[2]}/git/blobs/${blob}`,
          html_url: `https://github.com/${m[1]}/${m[2]}/blob/${ref}/${filePath}`,
          download_url: `https://raw.githubusercontent.com/${m[1]}/${m[2]}/${ref}/${filePath}`,
          _links: { self: url, git: `https://api.github.com/repos/${m[1]}/${m[2]}/git/blobs/${blob}`, html: `https://github.com/${m[1]}/${m[2]}/blob/${ref}/${filePath}` },
        });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/))) {
        const id = nextId++;
        comments.set(id, String(body?.body ?? ''));
        return send(201, { id, node_id: `IC_${id}`, body: body?.body, html_url: `https://github.com/${m[1]}/${m[2]}/pull/${m[3]}#issuecomment-${id}` });
      }
      if (req.method === 'PATCH' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/))) {
        const id = Number(m[1]);
        if (!comments.has(id)) return send(404, { message: 'Not Found' });
        comments.set(id, String(body?.body ?? ''));
        return send(200, { id, body: body?.body });
      }
      if (req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path)) {
        return send(201, { id: nextId++, state: body?.state, context: body?.context, description: body?.description, target_url: body?.target_url ?? null });
      }
      if (req.method === 'POST' && path.match(/^\/repos\/[^/]+\/[^/]+\/deployments$/)) {
        return send(201, { id: nextId++, sha: body?.ref, ref: body?.ref, environment: body?.environment, transient_environment: body?.transient_environment });
      }
      if (req.method === 'POST' && (m = path.match(/^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/))) {
        return send(201, { id: nextId++, state: body?.state, environment_url: body?.environment_url ?? null, deployment_url: `/deployments/${m[1]}` });
      }
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(pattern, status, count = 1) {
      failures.push({ pattern, status, count });
    },
    setFile(repository, ref, path, text) {
      if (text === null) files.delete(fileKey(repository, ref, path));
      else files.set(fileKey(repository, ref, path), text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
