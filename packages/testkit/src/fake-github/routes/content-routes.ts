import { createHash } from 'node:crypto';
import type { Exchange } from '../exchange.js';
import { fileKey, type FakeGithubState } from '../fake-github-state.js';

/** Repository files through the contents API (`GET /repos/{o}/{r}/contents/{path}?ref=`). */
export function contentRoutes(state: FakeGithubState, ex: Exchange): boolean {
  const m = ex.method === 'GET' ? /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(ex.path) : null;
  if (!m) return false;
  const [, owner, name] = m;
  // GitHub's shape for a file: base64 content wrapped at 60 characters, its blob sha, links.
  const ref = ex.query.get('ref') ?? 'HEAD';
  const filePath = decodeURIComponent(m[3]!);
  const text = state.files.get(fileKey(`${owner}/${name}`, ref, filePath));
  if (text === undefined) return ex.send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content', status: '404' });
  const content = Buffer.from(text, 'utf8').toString('base64').replace(/(.{60})/g, '$1\n');
  const blob = createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex');
  const url = `https://api.github.com/repos/${owner}/${name}/contents/${filePath}?ref=${ref}`;
  return ex.send(200, {
    type: 'file',
    encoding: 'base64',
    size: Buffer.byteLength(text),
    name: filePath.split('/').at(-1),
    path: filePath,
    content,
    sha: blob,
    url,
    git_url: `https://api.github.com/repos/${owner}/${name}/git/blobs/${blob}`,
    html_url: `https://github.com/${owner}/${name}/blob/${ref}/${filePath}`,
    download_url: `https://raw.githubusercontent.com/${owner}/${name}/${ref}/${filePath}`,
    _links: { self: url, git: `https://api.github.com/repos/${owner}/${name}/git/blobs/${blob}`, html: `https://github.com/${owner}/${name}/blob/${ref}/${filePath}` },
  });
}
