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
  close(): Promise<void>;
}

/**
 * A local stand-in for GitHub's REST API, speaking its shapes for what Ephemera calls: App installation
 * tokens, issue comments, commit statuses, deployments and deployment statuses. It records every request.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const requests: RecordedRequest[] = [];
  const failures: Array<{ pattern: RegExp; status: number; count: number }> = [];
  let nextId = 1000;
  const comments = new Map<number, string>();

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
