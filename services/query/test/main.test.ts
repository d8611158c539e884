import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { QUEUES } from '@ephemera/schema';
import { freePort } from '@ephemera/testkit';
import { insertEnvironment, startQuery } from './support.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

type Q = Awaited<ReturnType<typeof startQuery>>;

/**
 * The real entry point in a process of its own: runs until `/readyz` answers (then is stopped) or until it exits,
 * and gives back its exit code, what it wrote, what the API answered without a token, and what `probe` found.
 */
async function runQuery(q: Q, extra: Record<string, string>, probe?: (base: string) => Promise<unknown>) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: q.databaseUrl,
      REDIS_URL: process.env.REDIS_URL,
      QUEUE_PREFIX: q.prefix,
      QUEUE_SIGNING_KEY: q.signingKey,
      QUERY_PORT: String(port),
      LOG_LEVEL: 'info',
      SESSION_SECRET: 'session-secret-0123456789abcdef01',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 20_000;
  let api: number | undefined;
  let bullBoard: number | undefined;
  let probed: unknown;
  while (!gone && Date.now() < deadline) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) {
      api = (await fetch(`http://127.0.0.1:${port}/api/v1/environments`)).status;
      bullBoard = (await fetch(`http://127.0.0.1:${port}/admin/queues`)).status;
      probed = await probe?.(`http://127.0.0.1:${port}`);
      child.kill('SIGTERM');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!gone && api === undefined) child.kill('SIGKILL');
  const code = await exited;
  return { code, output, api, bullBoard, probed, lines: output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string | number; msg: string }) };
}

const WRITE_TOKEN = 'write-token-0123456789abcdef';

const warnings = (lines: Array<{ level: string | number; msg: string }>) => lines.filter((l) => l.level === 'warn' || l.level === 40).map((l) => l.msg);

describe('the query process', () => {
  let q: Q;
  beforeAll(async () => {
    q = await startQuery();
  });
  afterAll(() => q.close());

  it.each(['development', 'test', 'production'])('refuses to start with NODE_ENV=%s and neither API_TOKENS nor API_AUTH=none, naming both', async (NODE_ENV) => {
    const run = await runQuery(q, { NODE_ENV });
    expect(run.code).toBe(1);
    expect(run.api).toBeUndefined();
    expect(run.output).toMatch(/query: invalid configuration/);
    expect(run.output).toMatch(/API_TOKENS is not set: .*API_AUTH=none/);
  });

  it('refuses to start in production without SESSION_SECRET', async () => {
    const run = await runQuery(q, { NODE_ENV: 'production', API_TOKENS: 'tok', SESSION_SECRET: '' });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/SESSION_SECRET must be set/);
  });

  it('refuses to start in production with an ADMIN_PASSWORD shorter than 12 characters', async () => {
    const run = await runQuery(q, { NODE_ENV: 'production', API_TOKENS: 'tok', ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'short' });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/ADMIN_PASSWORD must be at least 12 characters/);
  });

  it('with API_AUTH=none and no tokens: serves the API open and says so, and says how to turn Bull Board on', async () => {
    const run = await runQuery(q, { API_AUTH: 'none', GITHUB_APP_ENV_FILE: '/nonexistent/github-app.env' }, async (base) => (await fetch(`${base}/setup`)).status);
    expect(run.api).toBe(200);
    expect(run.bullBoard).toBe(404);
    const warned = warnings(run.lines);
    expect(warned).toContainEqual(expect.stringMatching(/API_AUTH=none .*open.*set API_TOKENS/));
    expect(warned).toContainEqual(expect.stringMatching(/\/admin\/queues is off.*ADMIN_USERNAME and ADMIN_PASSWORD/));
    // No GitHub App: /setup is served to this machine, and asks for the PUBLIC_URL it needs.
    expect(run.lines.map((l) => l.msg)).toContainEqual('no GitHub App is configured: register one at /setup from this machine');
    expect(run.probed).toBe(503);
  });

  it('with tokens and API_AUTH=none: requires a token, and warns that API_AUTH=none is ignored', async () => {
    const run = await runQuery(q, { API_AUTH: 'none', API_TOKENS: 'tok', ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'a-long-password', NODE_ENV: 'production' });
    expect(run.api).toBe(401);
    expect(run.bullBoard).toBe(401);
    const warned = warnings(run.lines);
    expect(warned).toContainEqual(expect.stringMatching(/API_AUTH=none is ignored because API_TOKENS is set/));
    expect(warned.join('\n')).not.toMatch(/admin\/queues is off/);
  });

  it('refuses to start in production with an http PUBLIC_URL, unless ALLOW_INSECURE_PUBLIC_URL=true, and then warns', async () => {
    const refused = await runQuery(q, { NODE_ENV: 'production', API_TOKENS: 'tok', PUBLIC_URL: 'http://ephemera.example' });
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/PUBLIC_URL is http: .*ALLOW_INSECURE_PUBLIC_URL=true/);
    const allowed = await runQuery(q, { NODE_ENV: 'production', API_TOKENS: 'tok', PUBLIC_URL: 'http://ephemera.example', ALLOW_INSECURE_PUBLIC_URL: 'true' });
    expect(allowed.api).toBe(401);
    expect(warnings(allowed.lines)).toContainEqual(expect.stringMatching(/PUBLIC_URL is http: the dashboard's cookies are not Secure/));
  });

  it('with ADMIN_SIGN_IN=off: no operator form on the dashboard (Bull Board keeps its basic auth); with https PUBLIC_URL, __Host- cookies', async () => {
    const run = await runQuery(
      q,
      { NODE_ENV: 'production', API_TOKENS: 'tok', ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'a-long-password', ADMIN_SIGN_IN: 'off', PUBLIC_URL: 'https://ephemera.example' },
      async (base) => {
        const page = await fetch(`${base}/sign-in`);
        const posted = await fetch(`${base}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=a-long-password' });
        return { page: await page.text(), cookie: page.headers.get('set-cookie'), posted: posted.status, setup: (await fetch(`${base}/setup`)).status };
      },
    );
    const probed = run.probed as { page: string; cookie: string; posted: number; setup: number };
    expect(probed.page).not.toContain('name="password"');
    expect(probed.posted).toBe(404);
    // No /setup in production without SETUP_TOKEN.
    expect(probed.setup).toBe(404);
    expect(probed.page).not.toContain('Register the GitHub App');
    expect(probed.cookie).toMatch(/^__Host-ephemera_login_csrf=.*; Secure/);
    expect(run.bullBoard).toBe(401);
    expect(run.lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/ADMIN_SIGN_IN=off/));
  });

  it('refuses to start with a token in both API_TOKENS and API_WRITE_TOKENS', async () => {
    const run = await runQuery(q, { API_TOKENS: `tok,${WRITE_TOKEN}`, API_WRITE_TOKENS: WRITE_TOKEN });
    expect(run.code).toBe(1);
    expect(run.api).toBeUndefined();
    expect(run.output).toMatch(/API_WRITE_TOKENS: token 1 is in API_TOKENS as well/);
    expect(run.output).not.toContain(WRITE_TOKEN);
  });

  it('with API_WRITE_TOKENS: queues an action for a write token and refuses a read token', async () => {
    const env = await insertEnvironment(q.db, { status: 'READY' });
    const run = await runQuery(q, { API_TOKENS: 'tok', API_WRITE_TOKENS: WRITE_TOKEN, NODE_ENV: 'production' }, async (base) => {
      const post = (token: string) => fetch(`${base}/api/v1/environments/${env.id}/destroy`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      const read = await post('tok');
      const write = await post(WRITE_TOKEN);
      return { read: read.status, write: write.status, body: (await write.json()) as { request_id: string } };
    });
    const probed = run.probed as { read: number; write: number; body: { request_id: string } };
    expect({ read: probed.read, write: probed.write }).toEqual({ read: 403, write: 202 });
    const job = await q.actionsQueue.getJob(probed.body.request_id);
    expect(job?.name).toBe('environment.destroy');
    // Signed with the QUEUE_SIGNING_KEY the process was given.
    expect(q.signer.verify(QUEUES.actions, job!.name, job!.data)).toMatchObject({ ok: true });
    expect(run.output).not.toContain(WRITE_TOKEN);
  });
});
